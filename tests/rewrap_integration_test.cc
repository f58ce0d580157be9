// The key rotation's background rewrap in the real budstikke-server binary
// over real mTLS (issue 20, defect 4): a rotation moves every record of the
// agency to the new key version, GetRewrapProgress goes to DONE with the
// counts, the old version then shreds without force, and every record stays
// readable.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "budstikke/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::TestServer;

std::unique_ptr<Client> ClientAs(const TestServer& server, const std::string& name) {
  ClientOptions o;
  o.server = server.address();
  o.ca_file = server.cert_dir() + "/ca.pem";
  o.cert_file = server.cert_dir() + "/" + name + ".pem";
  o.key_file = server.cert_dir() + "/" + name + ".key";
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

v1::AskConsultationRequest AskReq(const std::string& text) {
  v1::AskConsultationRequest r;
  r.set_request_id(NewRequestId());
  r.mutable_recipient()->set_agency("bup-oslo");
  r.set_age_band(v1::AGE_BAND_3_5);
  r.add_concerns(v1::CONCERN_BEHAVIOUR);
  r.set_text(text);
  return r;
}

// Polls until the rewrap of `agency` is no longer RUNNING (up to 20 s).
v1::RewrapProgress AwaitRewrap(const Client& admin, const std::string& agency) {
  v1::GetRewrapProgressRequest req;
  req.set_agency(agency);
  v1::RewrapProgress last;
  for (int i = 0; i < 400; ++i) {
    auto p = admin.GetRewrapProgress(req);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return last;
    last = *p;
    if (last.state() != v1::REWRAP_STATE_RUNNING) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

TEST(RewrapIntegrationTest, RotationRewrapsEveryRecordAndTheOldVersionShredsWithoutForce) {
  TestServer server;
  auto kg = ClientAs(server, "kindergarten-staff");
  auto clinician = ClientAs(server, "bup-clinician");
  auto admin = ClientAs(server, "bup-admin");
  ASSERT_TRUE(kg && clinician && admin);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto asked = kg->AskConsultation(
        AskReq("Gutten på 4 år sover dårlig, uke " + std::to_string(i + 1) + "."));
    ASSERT_TRUE(asked.ok()) << asked.status();
    ids.push_back(asked->id());
  }
  v1::GetRewrapProgressRequest progress_req;
  progress_req.set_agency("bup-oslo");
  auto idle = admin->GetRewrapProgress(progress_req);
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->state(), v1::REWRAP_STATE_IDLE);

  v1::RotateAgencyKeyRequest rotate;
  rotate.set_agency("bup-oslo");
  rotate.set_request_id(NewRequestId());
  auto rotated = admin->RotateAgencyKey(rotate);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->current_version(), 2u);

  const v1::RewrapProgress done = AwaitRewrap(*admin, "bup-oslo");
  EXPECT_EQ(done.state(), v1::REWRAP_STATE_DONE) << done.DebugString();
  EXPECT_EQ(done.target_version(), 2u);
  EXPECT_EQ(done.records_done(), done.records_total());
  EXPECT_EQ(done.records_done(), 5u);  // the five consultations' content
  EXPECT_EQ(done.error(), "");

  v1::ShredAgencyKeyVersionRequest shred;
  shred.set_agency("bup-oslo");
  shred.set_version(1);
  shred.set_confirm("bup-oslo/1");
  auto shredded = admin->ShredAgencyKeyVersion(shred);
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(shredded->versions(0).state(), v1::KEY_VERSION_STATE_SHREDDED);

  for (size_t i = 0; i < ids.size(); ++i) {
    auto shown = clinician->GetConsultation(ids[i]);
    ASSERT_TRUE(shown.ok()) << shown.status();
    EXPECT_EQ(shown->text(), "Gutten på 4 år sover dårlig, uke " + std::to_string(i + 1) + ".");
  }
  // The kindergarten's own key was not rotated: its copies stay readable too.
  auto seen = kg->GetConsultation(ids[0]);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->text(), "Gutten på 4 år sover dårlig, uke 1.");
}

}  // namespace
}  // namespace budstikke
