#include "services/common/pii/scanner.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id_testing.h"
#include "storage/status_matchers.h"

#ifndef BUDSTIKKE_PII_TESTDATA
#define BUDSTIKKE_PII_TESTDATA "services/common/pii/testdata"
#endif

namespace budstikke::pii {
namespace {

using ::budstikke::common::testing::MakeSyntheticNationalId;
using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Span {
  FindingKind kind;
  size_t start, end;
  friend bool operator==(const Span& a, const Span& b) {
    return a.kind == b.kind && a.start == b.start && a.end == b.end;
  }
  friend std::ostream& operator<<(std::ostream& os, const Span& s) {
    return os << FindingKindName(s.kind) << "[" << s.start << "," << s.end << ")";
  }
};

std::vector<Span> Spans(const std::vector<Finding>& findings) {
  std::vector<Span> out;
  for (const Finding& f : findings) out.push_back({f.kind, f.start, f.end});
  return out;
}

std::unique_ptr<Scanner> DefaultScanner() {
  auto s = Scanner::Create(ScannerConfig{});
  EXPECT_THAT(s, IsOk());
  return std::move(s).value();
}

// Fills the X's of `layout` with the digits of `id`.
std::string Layout(const std::string& id, const std::string& layout) {
  std::string out;
  size_t k = 0;
  for (char c : layout) out += c == 'X' ? id[k++] : c;
  return out;
}

std::string SyntheticId(const std::string& ymd, bool d_number, int counter) {
  const int y = std::stoi(ymd.substr(0, 4)), m = std::stoi(ymd.substr(5, 2)),
            d = std::stoi(ymd.substr(8, 2));
  std::string id = MakeSyntheticNationalId(y, m, d, (counter * 97) % 1000, d_number);
  EXPECT_EQ(id.size(), 11u) << ymd;
  return id;
}

// A synthetic id (month + 80, day + 40 when `d_number`) that is valid only
// under the 2032 rule: the first check digit leaves remainder 1, 2 or 3
// (chosen by `counter`) instead of 0; the second check digit is classic.
std::string Synthetic2032Id(const std::string& ymd, bool d_number, int counter) {
  static constexpr int kW1[9] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  static constexpr int kW2[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  const int y = std::stoi(ymd.substr(0, 4)), m = std::stoi(ymd.substr(5, 2)),
            d = std::stoi(ymd.substr(8, 2));
  const int lo = y >= 2000 ? 500 : 0, hi = y >= 2000 ? 999 : 499;
  const int remainder = 1 + counter % 3;
  auto two = [](int v) { return std::string{char('0' + v / 10), char('0' + v % 10)}; };
  const std::string prefix = two(d + (d_number ? 40 : 0)) + two(m + 80) + two(y % 100);
  for (int step = 0; step <= hi - lo; ++step) {
    const int ind = lo + (counter * 37 + step) % (hi - lo + 1);
    std::string s = prefix + char('0' + ind / 100) + two(ind % 100);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += kW1[i] * (s[i] - '0');
    const int k1 = ((remainder - sum) % 11 + 11) % 11;
    if (k1 > 9) continue;
    s.push_back(char('0' + k1));
    sum = 0;
    for (int i = 0; i < 10; ++i) sum += kW2[i] * (s[i] - '0');
    const int k2 = (11 - sum % 11) % 11;
    if (k2 == 10) continue;
    s.push_back(char('0' + k2));
    // The parser accepts it (it fails the classic rule by construction).
    EXPECT_TRUE(common::NationalId::Parse(s).ok()) << s;
    return s;
  }
  ADD_FAILURE() << "no 2032-rule id for " << ymd;
  return "";
}

struct Expanded {
  std::string text;
  std::vector<Span> expected;
};

// Expands the markup described in testdata/gen_worry_texts.py.
Expanded Expand(const std::string& line, int* counter) {
  std::string src;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      src += line[i + 1] == 'n' ? '\n' : line[i + 1];
      ++i;
    } else {
      src += line[i];
    }
  }
  Expanded out;
  size_t p = 0;
  while (true) {
    const size_t open = src.find("[[", p);
    if (open == std::string::npos) {
      out.text += src.substr(p);
      break;
    }
    out.text += src.substr(p, open - p);
    const size_t close = src.find("]]", open);
    const std::string tag = src.substr(open + 2, close - open - 2);
    p = close + 2;
    const size_t colon = tag.find(':');
    const std::string kind = tag.substr(0, colon);
    const std::string rest = tag.substr(colon + 1);
    std::string inserted;
    bool expect = true;
    FindingKind fk = FindingKind::kNationalId;
    if (kind == "ID32" || kind == "DID32") {
      inserted =
          Layout(Synthetic2032Id(rest.substr(0, 10), kind == "DID32", ++*counter), rest.substr(11));
    } else if (kind == "ID" || kind == "DID" || kind == "BADID") {
      std::string id = SyntheticId(rest.substr(0, 10), kind == "DID", ++*counter);
      if (kind == "BADID") {
        id[10] = static_cast<char>('0' + (id[10] - '0' + 1) % 10);
        expect = false;
      }
      inserted = Layout(id, rest.substr(11));
    } else if (kind == "ACCT") {
      const std::string layout = rest.size() > 10 ? rest.substr(11) : "XXXX.XX.XXXXX";
      inserted = Layout(SyntheticId(rest.substr(0, 10), false, ++*counter), layout);
      expect = false;
    } else {
      inserted = rest;
      if (kind == "PHONE")
        fk = FindingKind::kPhone;
      else if (kind == "EMAIL")
        fk = FindingKind::kEmail;
      else if (kind == "NAME")
        fk = FindingKind::kName;
      else if (kind == "DATE")
        fk = FindingKind::kBirthDate;
      else if (kind == "ADDR")
        fk = FindingKind::kAddress;
      else
        ADD_FAILURE() << "unknown markup " << kind;
    }
    if (expect) {
      out.expected.push_back({fk, out.text.size(), out.text.size() + inserted.size()});
    }
    out.text += inserted;
  }
  return out;
}

std::vector<std::string> ReadTable(const std::string& name) {
  // The build passes the absolute source path; BUDSTIKKE_SOURCE_DIR (set by
  // CTest) is the fallback for a moved build tree.
  std::string dir = BUDSTIKKE_PII_TESTDATA;
  std::ifstream in(dir + "/" + name);
  const char* src = std::getenv("BUDSTIKKE_SOURCE_DIR");
  if (!in.good() && src != nullptr) {
    dir = std::string(src) + "/services/common/pii/testdata";
    in.open(dir + "/" + name);
  }
  EXPECT_TRUE(in.good()) << "cannot open " << dir << "/" << name;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    lines.push_back(line);
  }
  return lines;
}

bool IsRefuseKind(FindingKind k) {
  return k == FindingKind::kNationalId || k == FindingKind::kPhone || k == FindingKind::kEmail;
}

TEST(ScannerTableTest, WorryTextsFindExactlyTheMarkedSpans) {
  auto scanner = DefaultScanner();
  std::vector<std::string> lines = ReadTable("worry_texts.tsv");
  for (std::string& l : ReadTable("worry_texts_hand.tsv")) lines.push_back(std::move(l));
  ASSERT_GE(lines.size(), 200u);
  // The table covers every variant the scanner must refuse.
  for (const auto& [markup, at_least] :
       std::vector<std::pair<std::string, int>>{{"[[ID:", 40},
                                                {"[[DID:", 20},
                                                {"[[ID32:", 20},
                                                {"[[DID32:", 10},
                                                {"[[PHONE:+47", 10},
                                                {"[[PHONE:0047", 5},
                                                {"[[PHONE:", 80},
                                                {"[[EMAIL:", 60}}) {
    int count = 0;
    for (const std::string& l : lines) {
      for (size_t p = l.find(markup); p != std::string::npos; p = l.find(markup, p + 1)) {
        ++count;
      }
    }
    EXPECT_GE(count, at_least) << markup;
  }
  int counter = 0, refuse_expected = 0, refuse_found = 0, exact = 0;
  for (const std::string& line : lines) {
    const Expanded e = Expand(line, &counter);
    const std::vector<Finding> findings = scanner->Scan(e.text);
    const std::vector<Span> got = Spans(findings);
    for (const Span& s : e.expected) {
      if (!IsRefuseKind(s.kind)) continue;
      ++refuse_expected;
      for (const Finding& f : findings) {
        if (Span{f.kind, f.start, f.end} == s && f.severity == Severity::kRefuse) {
          ++refuse_found;
        }
      }
    }
    EXPECT_EQ(got, e.expected) << "text: " << e.text;
    exact += got == e.expected;
    EXPECT_EQ(VerdictOf(findings), Verdict::kRefuse) << e.text;
  }
  EXPECT_EQ(refuse_found, refuse_expected);  // 100% REFUSE recall
  EXPECT_EQ(exact, static_cast<int>(lines.size()));
  std::cout << "positives: " << lines.size() << " texts, " << refuse_expected << " REFUSE spans, "
            << refuse_found << " found\n";
}

TEST(ScannerTableTest, NegativesHaveNoRefuse) {
  auto scanner = DefaultScanner();
  std::vector<std::string> lines = ReadTable("negatives.tsv");
  for (std::string& l : ReadTable("negatives_hand.tsv")) lines.push_back(std::move(l));
  ASSERT_GE(lines.size(), 100u);
  int counter = 0, false_refuse = 0;
  for (const std::string& line : lines) {
    const Expanded e = Expand(line, &counter);
    const std::vector<Finding> findings = scanner->Scan(e.text);
    for (const Finding& f : findings) {
      if (f.severity == Severity::kRefuse) {
        ++false_refuse;
        ADD_FAILURE() << "false REFUSE " << FindingKindName(f.kind) << " [" << f.start << ","
                      << f.end << ") in: " << e.text;
      }
    }
    EXPECT_EQ(Spans(findings), e.expected) << "text: " << e.text;
  }
  EXPECT_EQ(false_refuse, 0);
  std::cout << "negatives: " << lines.size() << " texts, " << false_refuse << " false REFUSE\n";
}

// Rows written as Norwegian texts are written, in the markup of the tables
// ([[DATE:...]], [[NAME:...]], [[ADDR:...]], [[PHONE:...]]): every marked span
// is found with exactly that kind and range and nothing else is, severities
// are the defaults (so the verdict is OK, WARN or REFUSE from the markup).
void ExpectExactRows(const std::vector<std::string>& rows) {
  auto scanner = DefaultScanner();
  int counter = 0;
  for (const std::string& row : rows) {
    const Expanded e = Expand(row, &counter);
    const std::vector<Finding> findings = scanner->Scan(e.text);
    EXPECT_EQ(Spans(findings), e.expected) << "text: " << e.text;
    Verdict want = Verdict::kOk;
    for (const Span& span : e.expected) {
      if (IsRefuseKind(span.kind)) {
        want = Verdict::kRefuse;
      } else if (want == Verdict::kOk) {
        want = Verdict::kWarn;
      }
    }
    EXPECT_EQ(VerdictOf(findings), want) << "text: " << e.text;
  }
}

// Issue 21, kind 1: dates in every common Norwegian form are BIRTH_DATE
// (WARN), never PHONE.
TEST(ScannerNorwegianTest, DatesInEveryFormAreBirthDates) {
  ExpectExactRows({
      "Hun er født [[DATE:2019-03-14]] og går i barnehagen.",
      "Gutten ble født [[DATE:14.03.2019]] på Ullevål.",
      "Født [[DATE:14/3-19]], ifølge helsestasjonen.",
      "Født [[DATE:14/3-2019]] i Drammen.",
      "Jenta er født [[DATE:14. mars 2019]] og har to søsken.",
      "Fødselsdato: [[DATE:3.1.2018]]",
      "Fødselsdato: [[DATE:14/03/2019]]",
      "Datoen var [[DATE:2024-02-29]], en skuddårsdag.",
      "Vi møttes [[DATE:2019-03-14]] kl. 10.15 på skolen.",
      // Not real dates, and not phone numbers either.
      "Datoen 2023-02-29 finnes ikke.",
      "Han skrev 31.04.2020 på skjemaet.",
  });
}

// Kind 2: genitive first names warn like the nominative; the span covers the
// genitive ending.
TEST(ScannerNorwegianTest, GenitiveNames) {
  ExpectExactRows({
      "[[NAME:Emmas]] mor ringte i dag.",
      "Vi har snakket med [[NAME:Jonas']] far om fraværet.",
      "Vi har snakket med [[NAME:Jonas’]] far om fraværet.",
      "[[NAME:Sofies]] bror går i tredje klasse.",
      "Hun er redd for [[NAME:Emma's]] far.",
      "Vi ringte [[NAME:Emma’s]] mor.",
      "Det er [[NAME:Kari Nordmanns]] datter det gjelder.",
  });
}

// Kind 3: a capitalised word where a name stands is a likely name even when
// no list has it; a common first name as the text's first word is found.
TEST(ScannerNorwegianTest, UnlistedNamesWhereANameStands) {
  ExpectExactRows({
      "Vi er bekymret for lille [[NAME:Hawa]] på 3 år.",
      "Lille [[NAME:Hawa]] gråter når mor går.",
      "Gutten [[NAME:Nikodem]] sier lite i samlingsstund.",
      "I klassen har jenta [[NAME:Oliwia]] ingen venner.",
      "Det gjelder eleven [[NAME:Dawit]] i 7B.",
      "Barnet [[NAME:Tenzin]] sover dårlig.",
      "[[NAME:Hawa]] gråter mye om morgenen.",
      "Vi har merket oss at [[NAME:Dawit]] ikke spiser lunsj.",
      "[[NAME:Nikodem]] og [[NAME:Oliwia]] leker alltid alene.",
      "Mor sier at [[NAME:Tenzin]] sover lite. Hun er sliten.",
      "[[NAME:Emma]] har vært borte i to uker.",
      "\xEF\xBB\xBF[[NAME:Emma]] har vært borte i to uker.",
      "[[NAME:Per]] har ADHD og trenger mye støtte.",
      "[[NAME:Hans]] sier at han ikke vil hjem.",
      "Han heter [[NAME:Gustav]]. 5 barn var med på turen.",
  });
}

// Kind 4: abbreviated street names are addresses.
TEST(ScannerNorwegianTest, AbbreviatedStreets) {
  ExpectExactRows({
      "Familien bor i [[ADDR:Storgt. 5]].",
      "Adressen er [[ADDR:Kirkevn. 12 B]], andre etasje.",
      "De har flyttet til [[ADDR:Bjerkepl. 3]] i høst.",
      "Far bor i [[ADDR:Trondheimsv. 12]].",
      "Mor bor i [[ADDR:Thorvald Meyers gt. 5]] med den nye kjæresten.",
      "Møtet var i [[ADDR:Ole Bulls pl. 3]].",
      "De bor i [[ADDR:Bygdøy allé 5]] nå.",
      "Adresse: [[ADDR:Bygdøy Allé 5]]",
      "Post sendes til [[ADDR:Storgt. 5, 0155 Oslo]].",
      "Han bor i [[ADDR:Storgata 5]] i Oslo.",
  });
}

// Near misses: times, case numbers, year ranges, weights and weeks stay OK;
// phone numbers written with spaces stay PHONE (REFUSE).
TEST(ScannerNorwegianTest, NearMisses) {
  ExpectExactRows({
      "Møtet er kl. 14.30 i morgen.",
      "Saken har saksnr 2024/1234 hos kommunen.",
      "Skoleåret 2023-2024 var vanskelig.",
      "Hun veier 24,5 kg og er 110 cm.",
      "Vi tok det opp i uke 12.",
      "Bruk v. 2 av skjemaet.",
      "Se pkt. 5 i planen.",
      "Helsesykepleier kan nås på [[PHONE:22 33 44 55]] på dagtid.",
      "Far har mobil [[PHONE:+47 912 34 567]].",
      "Ring [[PHONE:912 34 567]] etter kl. 16.",
  });
}

// Ordinary capitalised words (sentence starts, places after "i", nouns,
// days) stay OK under the new rules.
TEST(ScannerNorwegianTest, HarmlessTextsStayOk) {
  ExpectExactRows({
      "Barnet gråter mye om morgenen.",
      "Hun har vondt i magen hver dag.",
      "Mandag kom han for sent igjen.",
      "Vi bor i Oslo og har gjort det lenge.",
      "Familien har flyttet fra Bergen til Trondheim.",
      "Situasjonen er vanskelig for alle.",
      "Helsesykepleier har snakket med eleven.",
      "Mobbing skjer ofte i friminuttene.",
      "Snapchat er et problem i klassen.",
      "Torsdag var hun borte, og fredag var hun syk.",
      "Oslo og Bergen er langt fra hverandre.",
      "Klokka var 23 da politiet kom.",
      "Svar kan sendes til skolen.",
      "Norsk er andrespråket hans.",
      "Fotball er det eneste han liker.",
      "Vold forekommer hjemme, ifølge naboen.",
      "Dag for dag blir det verre.",
      "Jeg er bekymret. Vi er usikre. De svarer ikke.",
      "Han sier at Oslo er kjedelig.",
      "Barnehagen har meldt bekymring før.",
      "Foreldrene er skilt og Mor har ny samboer.",
      "Tidligere var han glad. Nå er han stille.",
      "Nav har gitt støtte, og BUP har lang ventetid.",
      "Ellers går det greit på skolen.",
      "Gutten og søsteren bor hos mor.",
      "Innimellom er hun glad, men stort sett er hun stille.",
      "Sosionom har vært på hjemmebesøk, og logoped har vurdert språket.",
      "Jordmor har fulgt familien siden fødselen.",
      "Barnevernspedagog kan delta på møtet.",
  });
}

TEST(ScannerTest, IdSeparatorsAndSpacing) {
  auto scanner = DefaultScanner();
  const std::string id = MakeSyntheticNationalId(2018, 1, 1, 512);
  for (const char* layout :
       {"XXXXXXXXXXX", "XXXXXX XXXXX", "XXXXXX-XXXXX", "XX.XX.XX XXXXX", "XXXX XXXX XXX",
        "X X X X X X X X X X X", "XXXXXX\r\nXXXXX", "XXXXXX\xE2\x80\x93XXXXX"}) {
    const std::string text = "Fnr: " + Layout(id, layout) + ".";
    EXPECT_THAT(Spans(scanner->Scan(text)),
                ElementsAre(Span{FindingKind::kNationalId, 5, text.size() - 1}))
        << layout;
  }
}

TEST(ScannerTest, AccountGroupingIsNotAnId) {
  auto scanner = DefaultScanner();
  const std::string id = MakeSyntheticNationalId(2018, 1, 1, 512);
  EXPECT_THAT(scanner->Scan("Konto " + Layout(id, "XXXX.XX.XXXXX")), IsEmpty());
  EXPECT_THAT(scanner->Scan("Konto " + Layout(id, "XXXX XX XXXXX")), IsEmpty());
  EXPECT_THAT(scanner->Scan("Konto 1234.56.78903"), IsEmpty());
}

TEST(ScannerTest, SyntheticIdsIgnoredWhenNotAllowed) {
  ScannerConfig config;
  config.allow_synthetic = false;
  auto scanner = Scanner::Create(config);
  ASSERT_THAT(scanner, IsOk());
  const std::string id = MakeSyntheticNationalId(2018, 1, 1, 512);
  EXPECT_THAT((*scanner)->Scan("fnr " + id), IsEmpty());
}

TEST(ScannerTest, PhoneFormats) {
  auto scanner = DefaultScanner();
  struct Case {
    std::string text;
    size_t start, end;
  };
  for (const Case& c : std::vector<Case>{
           {"tlf 912 34 567", 4, 14},
           {"tlf 91 23 45 67", 4, 15},
           {"+47 91234567", 0, 12},
           {"ring (+47) 912 34 567 nå", 5, 21},
           {"0047 22334455", 0, 13},
           {"+4791234567.", 0, 11},
           {"Mobil:\n41234567", 7, 15},
           // A bracket around the whole number is not part of it.
           {"(+4791234567)", 1, 12},
           {"(+47 912 34 567)", 1, 15},
           {"mor (0047 91 23 45 67).", 5, 21},
       }) {
    EXPECT_THAT(Spans(scanner->Scan(c.text)),
                ElementsAre(Span{FindingKind::kPhone, c.start, c.end}))
        << c.text;
  }
  for (const char* text : {"tlf 912 34 56", "nr 912345678", "nummer 12345678", "2019-2020",
                           "kr 25 000 000", "kl. 20.30-21.30", "saksnr 2024/1234", "24.12.2019"}) {
    for (const Finding& f : scanner->Scan(text)) {
      EXPECT_NE(f.kind, FindingKind::kPhone) << text;
    }
  }
}

TEST(ScannerTest, EmailSpan) {
  auto scanner = DefaultScanner();
  EXPECT_THAT(Spans(scanner->Scan("Skriv til ola.n+test@skole.kommune.no.")),
              ElementsAre(Span{FindingKind::kEmail, 10, 37}));
  EXPECT_THAT(scanner->Scan("mor@ og @mention og ola@localhost"), IsEmpty());
}

TEST(ScannerTest, NamesAndSentenceInitialCommonWords) {
  auto scanner = DefaultScanner();
  // "Dag" is a name but also "day": not a name at the start of a sentence.
  EXPECT_THAT(scanner->Scan("Dag for dag blir det verre."), IsEmpty());
  EXPECT_THAT(Spans(scanner->Scan("Vi snakket med Dag om det.")),
              ElementsAre(Span{FindingKind::kName, 15, 18}));
  EXPECT_THAT(scanner->Scan("Barnehagen ringte. Gutten gråter."), IsEmpty());
  // Context cue makes an unknown capitalised word a name.
  EXPECT_THAT(Spans(scanner->Scan("gutten Zyxtor gråter")),
              ElementsAre(Span{FindingKind::kName, 7, 13}));
  EXPECT_THAT(Spans(scanner->Scan("Hun heter Ola Nordmann.")),
              ElementsAre(Span{FindingKind::kName, 10, 22}));
  // Acronyms are not names.
  EXPECT_THAT(scanner->Scan("mor NAV og BUP"), IsEmpty());
}

TEST(ScannerTest, BirthDatesAndAddresses) {
  auto scanner = DefaultScanner();
  EXPECT_THAT(Spans(scanner->Scan("født 12.05.2020")),
              ElementsAre(Span{FindingKind::kBirthDate, 6, 16}));
  EXPECT_THAT(Spans(scanner->Scan("født 3. mars 2019, ")),
              ElementsAre(Span{FindingKind::kBirthDate, 6, 18}));
  EXPECT_THAT(scanner->Scan("31.04.2020 og 12. mai og 12.05"), IsEmpty());
  EXPECT_THAT(Spans(scanner->Scan("bor i Storgata 12B, 0150 Oslo.")),
              ElementsAre(Span{FindingKind::kAddress, 6, 29}));
  EXPECT_THAT(scanner->Scan("skoleveien er lang og i 2019 Oslo"), IsEmpty());
}

TEST(ScannerTest, OverlapsResolvedAndSortedWithIds) {
  auto scanner = DefaultScanner();
  const std::string id = MakeSyntheticNationalId(2018, 1, 1, 512, true);
  const std::string text =
      "Ola har " + Layout(id, "XXXX XXXX XXX") + " og tlf 91234567, ola@example.no";
  const std::vector<Finding> f = scanner->Scan(text);
  // The D-number's "4101 8..." also looks like a phone number: the id wins.
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].kind, FindingKind::kName);
  EXPECT_EQ(f[0].severity, Severity::kWarn);
  EXPECT_EQ(f[1].kind, FindingKind::kNationalId);
  EXPECT_EQ(f[1].start, 8u);
  EXPECT_EQ(f[1].end, 21u);
  EXPECT_EQ(f[2].kind, FindingKind::kPhone);
  EXPECT_EQ(f[3].kind, FindingKind::kEmail);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f[i].id, i);
  EXPECT_EQ(VerdictOf(f), Verdict::kRefuse);
}

TEST(ScannerTest, ConfigSeveritiesAndVerdict) {
  ScannerConfig config;
  config.severities = {{FindingKind::kPhone, Severity::kWarn},
                       {FindingKind::kName, Severity::kRefuse}};
  auto scanner = Scanner::Create(config);
  ASSERT_THAT(scanner, IsOk());
  const std::vector<Finding> f = (*scanner)->Scan("Kari har 912 34 567 og kari@example.no");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].kind, FindingKind::kName);
  EXPECT_EQ(f[0].severity, Severity::kRefuse);
  EXPECT_EQ(f[1].kind, FindingKind::kPhone);
  EXPECT_EQ(f[1].severity, Severity::kWarn);
  EXPECT_EQ(VerdictOf({}), Verdict::kOk);
  EXPECT_EQ(VerdictOf({f[1]}), Verdict::kWarn);
  EXPECT_EQ(VerdictOf(f), Verdict::kRefuse);
  EXPECT_EQ(VerdictName(Verdict::kWarn), "WARN");
  EXPECT_EQ(FindingKindName(FindingKind::kBirthDate), "BIRTH_DATE");
  EXPECT_EQ(SeverityName(Severity::kRefuse), "REFUSE");
}

TEST(ScannerTest, NameListFromPath) {
  const std::string path = ::testing::TempDir() + "/names.txt";
  {
    std::ofstream out(path);
    out << "# test\nfirst Zorblat\nlast Quux common\n";
  }
  ScannerConfig config;
  config.names_path = path;
  auto scanner = Scanner::Create(config);
  ASSERT_THAT(scanner, IsOk());
  EXPECT_THAT(Spans((*scanner)->Scan("med Zorblat i dag")),
              ElementsAre(Span{FindingKind::kName, 4, 11}));
  EXPECT_THAT((*scanner)->Scan("med Ola i dag"), IsEmpty());

  config.names_path = ::testing::TempDir() + "/missing.txt";
  EXPECT_THAT(Scanner::Create(config),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("name list")));
  {
    std::ofstream out(path);
    out << "first Ok\nmiddle Bad\n";
  }
  config.names_path = path;
  EXPECT_THAT(Scanner::Create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
}

TEST(ScannerTest, EmptyAndBinaryInput) {
  auto scanner = DefaultScanner();
  EXPECT_THAT(scanner->Scan(""), IsEmpty());
  const std::string junk("\xC3\xE2\x80\xF0\x9F 9\xC2", 8);
  EXPECT_THAT(scanner->Scan(junk), IsEmpty());
}

TEST(ScannerTest, RandomInputKeepsInvariants) {
  auto scanner = DefaultScanner();
  std::mt19937 rng(7);
  const std::string alphabet[] = {"0",        "1",        "4",        "9",    " ",  ".",
                                  "-",        "/",        "+",        "@",    "a",  "K",
                                  "\xC3\xB8", "\xC3\x98", "\xC2\xA0", "\n",   "(",  ")",
                                  "Ola",      "veien",    "gate",     "mars", "no", "47"};
  std::uniform_int_distribution<size_t> pick(0, std::size(alphabet) - 1);
  std::uniform_int_distribution<int> len(0, 80);
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int k = len(rng); k > 0; --k) text += alphabet[pick(rng)];
    const std::vector<Finding> f = scanner->Scan(text);
    for (size_t k = 0; k < f.size(); ++k) {
      ASSERT_EQ(f[k].id, static_cast<int>(k));
      ASSERT_LT(f[k].start, f[k].end);
      ASSERT_LE(f[k].end, text.size());
      if (k > 0) {
        ASSERT_LE(f[k - 1].end, f[k].start) << text;
      }
    }
  }
}

}  // namespace
}  // namespace budstikke::pii
