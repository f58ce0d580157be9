// PII scanner throughput on realistic Norwegian worry texts.
// Target (docs/PERFORMANCE.md "## PII screening"): >= 50 MB/s per core.
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "services/common/pii/scanner.h"

namespace {

using budstikke::pii::Scanner;
using budstikke::pii::ScannerConfig;

const char* const kSentences[] = {
    "Gutten (4 år) har vært mye lei seg etter at foreldrene gikk fra hverandre.",
    "Jenta i 2. klasse virker sliten og ukonsentrert i timene, særlig etter helgene.",
    "Vi er bekymret for en gutt på 6 år som ofte kommer sulten i barnehagen.",
    "Eleven har hatt 14 dager fravær siste måned og trekker seg unna venner.",
    "Barnet forteller om mye krangling hjemme og sover dårlig; mor virker sliten.",
    "Hun har blåmerker på armene som hun ikke vil forklare, og vekten er 24,5 kg.",
    "Møtet med foreldrene er satt til kl. 14.30 på torsdag, saksnr 2024/1234.",
    "Vi lurer på om vi bør sende bekymringsmelding til barnevernet eller drøfte med BUP først.",
    "Skoleåret 2023-2024 har vært preget av konflikter i friminuttene.",
    "Læreren har lagt merke til at eleven sovner i timene og har ikke med matpakke.",
    "Det er mistanke om rusbruk hos en av foreldrene, ifølge naboer.",
    "Jenta heter Emma og går i 5B; hun sier hun ikke vil hjem etter skolen.",
    "Mor kan nås på 912 34 567 etter kl. 16, eller på e-post mor.hansen@example.no.",
    "Familien bor i Storgata 12, 0150 Oslo, og flyttet hit i 2021.",
    "Hun er født 12.05.2016 og har to eldre søsken.",
    "Vi har prøvd tiltak i ett år uten bedring, og ønsker en anonym drøfting med PPT.",
};

std::string Corpus(size_t bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, std::size(kSentences) - 1);
  std::string text;
  while (text.size() < bytes) {
    text += kSentences[pick(rng)];
    text += (rng() % 6 == 0) ? "\n\n" : " ";
  }
  return text;
}

void BM_ScanWorryText(benchmark::State& state) {
  auto scanner = Scanner::Create(ScannerConfig{});
  if (!scanner.ok()) {
    state.SkipWithError("Scanner::Create failed");
    return;
  }
  const std::string text = Corpus(static_cast<size_t>(state.range(0)), 42);
  size_t findings = 0;
  for (auto _ : state) {
    auto f = (*scanner)->Scan(text);
    findings = f.size();
    benchmark::DoNotOptimize(f.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
  state.counters["findings"] = static_cast<double>(findings);
}
// A typical consultation (2 KB) and a large batch (1 MB).
BENCHMARK(BM_ScanWorryText)->Arg(2 << 10)->Arg(1 << 20);

void BM_ScanRefuseKindsOnly(benchmark::State& state) {
  ScannerConfig config;
  config.severities = {
      {budstikke::pii::FindingKind::kNationalId, budstikke::pii::Severity::kRefuse},
      {budstikke::pii::FindingKind::kPhone, budstikke::pii::Severity::kRefuse},
      {budstikke::pii::FindingKind::kEmail, budstikke::pii::Severity::kRefuse}};
  auto scanner = Scanner::Create(config);
  if (!scanner.ok()) {
    state.SkipWithError("Scanner::Create failed");
    return;
  }
  const std::string text = Corpus(1 << 20, 7);
  for (auto _ : state) {
    auto f = (*scanner)->Scan(text);
    benchmark::DoNotOptimize(f.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ScanRefuseKindsOnly);

}  // namespace

BENCHMARK_MAIN();
