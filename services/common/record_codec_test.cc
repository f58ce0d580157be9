#include "services/common/record_codec.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/consultation.pb.h"
#include "budstikke/v1/referral.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace budstikke::common {
namespace {

TEST(RecordCodecTest, RandomHexIdHasPrefixLengthAndHexDigits) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = RandomHexId("c-", 16);
    ASSERT_EQ(id.size(), 2u + 32u);
    EXPECT_EQ(id.substr(0, 2), "c-");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 2), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(RandomHexId("", 12).size(), 24u);
}

TEST(RecordCodecTest, TimeOrderedIdsSortByCreationTime) {
  const absl::Time t = absl::FromUnixMillis(1795000000123);  // 0x1a1ee565e7b ms
  const std::string id = TimeOrderedId("ref-", t);
  ASSERT_EQ(id.size(), 4u + 12u + 20u);
  EXPECT_EQ(id.substr(0, 16), "ref-01a1ee565e7b");
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos) << id;
  EXPECT_NE(TimeOrderedId("ref-", t), id);  // 80 random bits after the time
  EXPECT_LT(id, TimeOrderedId("ref-", t + absl::Milliseconds(1)));
  EXPECT_LT(TimeOrderedId("ref-", t - absl::Milliseconds(1)), id);
  EXPECT_EQ(TimeOrderedId("", absl::FromUnixSeconds(-5), 2).substr(0, 12), "000000000000");
  EXPECT_EQ(TimeOrderedId("", t, 2).size(), 16u);
}

TEST(RecordCodecTest, TimeOfIdReadsTheTimeBack) {
  const absl::Time t = absl::FromUnixMillis(1795000000123);
  EXPECT_EQ(TimeOfId("att-", TimeOrderedId("att-", t)), t);
  EXPECT_EQ(TimeOfId("att-", TimeOrderedId("att-", t + absl::Microseconds(999))), t);
  EXPECT_EQ(TimeOfId("att-", TimeOrderedId("ref-", t)), std::nullopt);
  EXPECT_EQ(TimeOfId("att-", "att-01a1ee565e7"), std::nullopt);  // too short
  EXPECT_EQ(TimeOfId("att-", "att-01a1ee565e7x0000"), std::nullopt);
}

TEST(RecordCodecTest, InvertedTimeSortsNewestFirst) {
  const absl::Time t = absl::FromUnixSeconds(1795000000);
  const std::string older = InvertedTimeMicros(t);
  const std::string newer = InvertedTimeMicros(t + absl::Microseconds(1));
  EXPECT_EQ(older.size(), 20u);
  EXPECT_EQ(older, "09221577036854775807");
  EXPECT_LT(newer, older);
}

TEST(RecordCodecTest, FrameRoundTripsAndRefusesTruncation) {
  const std::string framed = Frame("pseudonym", std::string("sealed\0bytes", 12));
  EXPECT_EQ(framed.substr(0, 4), std::string("\0\0\0\x09", 4));
  std::string a, b;
  ASSERT_TRUE(Unframe(framed, &a, &b));
  EXPECT_EQ(a, "pseudonym");
  EXPECT_EQ(b, std::string("sealed\0bytes", 12));
  EXPECT_TRUE(Unframe(Frame("", ""), &a, &b));
  EXPECT_EQ(a, "");
  EXPECT_FALSE(Unframe(framed.substr(0, 3), &a, &b));
  EXPECT_FALSE(Unframe(framed.substr(0, 12), &a, &b));  // shorter than the length says
}

std::string NorwegianText(size_t size) {
  std::string text;
  while (text.size() < size) text += "Vedvarende angst, s\xc3\xb8vnvansker og skolevegring. ";
  text.resize(size);
  return text;
}

// What a parser of the output sees, and whether it sees all of it.
v1::Referral ParseReferral(const std::string& bytes) {
  v1::Referral parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  return parsed;
}

TEST(SerializeLongTextsUncheckedTest, WithoutLongStringsTheOutputIsProtobufs) {
  v1::Referral r;
  r.set_id("r1");
  r.set_reason(std::string(kLongString - 1, 'x'));
  r.set_decision_reason("mangler tiltakslogg");
  r.mutable_bup()->set_referral_question("Utredning?");
  r.add_attachments()->set_filename("logg.pdf");
  EXPECT_EQ(SerializeLongTextsUnchecked(r), r.SerializeAsString());
}

TEST(SerializeLongTextsUncheckedTest, ALongStringIsWrittenAfterTheOtherFields) {
  v1::Referral r;
  r.set_id("r1");
  r.set_reason(std::string(kLongString, 'x'));  // field 11
  r.set_decision_reason("kort");                // field 17
  v1::Referral rest = r;
  rest.clear_reason();
  // Tag 11 << 3 | 2 = 0x5a, then the length 256 as a varint (0x80 0x02).
  EXPECT_EQ(SerializeLongTextsUnchecked(r),
            rest.SerializeAsString() + "\x5a\x80\x02" + std::string(kLongString, 'x'));
}

TEST(SerializeLongTextsUncheckedTest, ReferralWithLongTextsParsesToTheSameMessage) {
  v1::Referral r;
  r.set_id("r1");
  r.set_sender_agency("gp-fjellet");
  r.set_subject_national_id("01890012345");
  r.set_reason(NorwegianText(4096));
  r.mutable_bup()->set_referral_question(NorwegianText(600));  // in a oneof
  r.mutable_bup()->set_medication("ingen");
  r.mutable_bup()->set_urgent(true);
  r.add_attachments()->set_filename("a.pdf");
  r.add_attachments()->set_filename("b.pdf");
  r.mutable_create_time()->set_seconds(1764547200);
  const std::string out = SerializeLongTextsUnchecked(r);
  EXPECT_NE(out, r.SerializeAsString());  // the long texts moved
  EXPECT_EQ(out.size(), r.ByteSizeLong());
  const v1::Referral parsed = ParseReferral(out);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, r))
      << parsed.DebugString();
  EXPECT_EQ(parsed.details_case(), v1::Referral::kBup);
}

TEST(SerializeLongTextsUncheckedTest, RepeatedFieldsKeepTheirOrder) {
  v1::Consultation c;
  c.set_text(NorwegianText(300));
  c.add_questions("Hva gj\xc3\xb8r vi?");
  c.add_questions(NorwegianText(kLongString));
  c.add_questions("Hvem tar kontakt?");
  for (int i = 0; i < 3; ++i) {
    v1::ConsultationMessage* m = c.add_messages();
    m->set_id(absl::StrCat("m", i));
    m->set_text(i == 1 ? NorwegianText(2000) : "Takk.");
    m->mutable_author()->set_agency("bup-oslo");
  }
  const std::string out = SerializeLongTextsUnchecked(c);
  EXPECT_EQ(out.size(), c.ByteSizeLong());
  v1::Consultation parsed;
  ASSERT_TRUE(parsed.ParseFromString(out));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, c))
      << parsed.DebugString();
  ASSERT_EQ(parsed.questions_size(), 3);
  EXPECT_EQ(parsed.questions(2), "Hvem tar kontakt?");
  ASSERT_EQ(parsed.messages_size(), 3);
  EXPECT_EQ(parsed.messages(2).id(), "m2");
}

TEST(StashLongTextsForWireTest, ATypeThatHoldsItselfIsWalkedAtEveryDepth) {
  // google.protobuf.Value holds ListValue, which holds Values again.
  google::protobuf::Value v;
  google::protobuf::ListValue* outer = v.mutable_list_value();
  outer->add_values()->set_string_value("kort");
  google::protobuf::ListValue* inner = outer->add_values()->mutable_list_value();
  inner->add_values()->set_string_value(NorwegianText(kLongString));
  const std::string original = v.SerializeAsString();
  StashLongTextsForWire(&v);
  const google::protobuf::Value& deep = v.list_value().values(1).list_value().values(0);
  EXPECT_EQ(deep.kind_case(), google::protobuf::Value::KIND_NOT_SET);  // stashed
  EXPECT_EQ(v.list_value().values(0).string_value(), "kort");          // short: stays
  EXPECT_EQ(v.SerializeAsString(), original);
}

TEST(StashLongTextsForWireTest, TheStashedMessageSerializesToTheOriginal) {
  v1::Referral r;
  r.set_id("r1");
  r.set_reason(NorwegianText(4096));                                  // field 11
  r.mutable_statutory_duty()->set_justification(NorwegianText(300));  // nested
  r.mutable_bup()->set_referral_question("Utredning?");               // short: stays
  const v1::Referral original = r;

  StashLongTextsForWire(&r);
  EXPECT_EQ(r.reason(), "");  // only the wire bytes carry it now
  EXPECT_EQ(r.statutory_duty().justification(), "");
  EXPECT_EQ(r.bup().referral_question(), "Utredning?");
  ASSERT_EQ(r.GetReflection()->GetUnknownFields(r).field_count(), 1);
  EXPECT_EQ(r.GetReflection()->GetUnknownFields(r).field(0).number(), 11);

  const std::string out = r.SerializeAsString();
  EXPECT_EQ(out.size(), original.ByteSizeLong());
  const v1::Referral parsed = ParseReferral(out);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, original))
      << parsed.DebugString();
  EXPECT_EQ(parsed.GetReflection()->GetUnknownFields(parsed).field_count(), 0);
}

TEST(StashLongTextsForWireTest, AMessageWithoutLongTextsIsUnchanged) {
  v1::Referral r;
  r.set_id("r1");
  r.set_reason(std::string(kLongString - 1, 'x'));
  r.add_attachments()->set_filename("logg.pdf");
  const std::string before = r.SerializeAsString();
  StashLongTextsForWire(&r);
  EXPECT_EQ(r.reason(), std::string(kLongString - 1, 'x'));
  EXPECT_EQ(r.SerializeAsString(), before);
}

}  // namespace
}  // namespace budstikke::common
