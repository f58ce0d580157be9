#include "services/common/pii/internal/word_lists.h"

namespace budstikke::pii::pii_internal {
namespace {

// clang-format off
constexpr std::string_view kCueWords[] = {
    "gutten", "gutt", "jenta", "jente", "jenten", "barnet", "eleven", "lille", "vesle",
    "mor", "far", "mora", "moren", "faren", "mamma", "pappa", "bror", "broren",
    "s\xC3\xB8ster", "s\xC3\xB8steren", "s\xC3\xB8stera", "heter", "het", "kalt", "kalles",
    "navn", "navnet", "onkel", "tante", "bestemor", "bestefar", "farmor", "mormor", "morfar",
    "farfar", "stefar", "stemor", "stefaren", "stemoren", "venninnen", "venninna", "vennen",
    "kompisen", "lillebror", "storebror", "lilles\xC3\xB8ster", "stores\xC3\xB8ster",
    "s\xC3\xB8nnen", "datteren", "dattera", "fosterfar", "fostermor", "kj\xC3\xA6resten",
    "samboer", "samboeren", "foresatt", "verge"};

constexpr std::string_view kSubjectVerbs[] = {
    "er", "var", "har", "hadde", "blir", "ble", "skal", "skulle", "vil", "ville", "kan",
    "kunne", "m\xC3\xA5", "m\xC3\xA5tte", "b\xC3\xB8r", "f\xC3\xA5r", "fikk", "sier", "sa",
    "forteller", "fortalte", "gr\xC3\xA5ter", "gr\xC3\xA5t", "kommer", "kom", "g\xC3\xA5r",
    "gikk", "bor", "bodde", "virker", "virket", "leker", "lekte", "sover", "sov", "spiser",
    "spiste", "sl\xC3\xA5r", "slo", "snakker", "snakket", "trenger", "mangler", "manglet",
    "viser", "viste", "sitter", "satt", "ligger", "l\xC3\xA5", "st\xC3\xA5r", "sto", "stod",
    "l\xC3\xB8per", "l\xC3\xB8p", "tegner", "leser", "skriker", "skrek", "sliter", "slet",
    "liker", "likte", "\xC3\xB8nsker", "\xC3\xB8nsket", "vet", "visste", "tror", "trodde",
    "f\xC3\xB8ler", "f\xC3\xB8lte", "gj\xC3\xB8r", "gjorde", "tar", "tok", "gir", "ga", "ser",
    "h\xC3\xB8rer", "h\xC3\xB8rte", "nekter", "nektet", "begynte", "begynner", "slutter",
    "sluttet", "fyller", "fylte", "heter", "het", "savner", "savnet", "reagerer", "reagerte",
    "trekker", "trakk", "mobbes", "mobber", "plages", "klager", "klaget", "skulker",
    "skulket", "jobber", "bruker", "brukte", "drikker", "r\xC3\xB8yker", "flyttet", "flytter",
    "hentes", "henter", "hentet", "lever", "mener", "mente", "svarer", "svarte", "spurte",
    "sp\xC3\xB8r", "ringte", "ringer", "skrev", "skriver", "husker", "glemmer", "glemte",
    "t\xC3\xB8r", "turte", "orker", "klarer", "klarte", "pr\xC3\xB8ver", "pr\xC3\xB8vde",
    "trives", "strever", "faller", "falt", "lyver", "l\xC3\xB8y", "stjeler", "stjal",
    "r\xC3\xB8mte", "r\xC3\xB8mmer", "kastet", "kaster", "biter", "bet", "sparker",
    "sparket", "dytter", "dyttet", "truer", "truet", "gjemmer", "gjemte", "tisser",
    "v\xC3\xA6ter", "blir", "fremst\xC3\xA5r", "uttrykker", "uttrykte", "utagerer",
    "isolerer", "holder", "holdt", "mistet", "mister", "sitter", "kjenner", "elsker",
    "hater", "gleder", "opplever", "opplevde", "forstod", "forst\xC3\xA5r", "sa", "s\xC3\xA5"};

constexpr std::string_view kClauseAdverbs[] = {
    "ikke", "ofte", "aldri", "alltid", "ogs\xC3\xA5", "bare", "fortsatt", "sjelden",
    "nesten", "gjerne", "heller", "kanskje"};

constexpr std::string_view kConjunctions[] = {
    "og", "men", "at", "fordi", "n\xC3\xA5r", "mens", "hvis", "om", "siden", "eller", "som",
    "da", "der"};

constexpr std::string_view kOrdinarySubjects[] = {
    // Pronouns, determiners, question words.
    "jeg", "eg", "du", "han", "hun", "ho", "den", "det", "vi", "me", "dere", "de", "dei",
    "man", "en", "ei", "et", "noen", "ingen", "alle", "begge", "mange", "flere", "f\xC3\xA5",
    "andre", "hver", "hvem", "hva", "hvilke", "hvilken", "hvor", "hvorfor", "hvordan",
    "dette", "denne", "disse", "selv", "samme", "slik", "s\xC3\xA5nn", "alt", "ingenting",
    "noe", "mye", "lite", "litt", "mer", "mest", "resten", "halvparten",
    // Adverbs and sentence adverbials.
    "n\xC3\xA5", "da", "s\xC3\xA5", "her", "der", "hjemme", "ute", "inne", "ofte", "sjelden",
    "alltid", "aldri", "iblant", "ogs\xC3\xA5", "likevel", "derfor", "dessuten", "samtidig",
    "tidligere", "senere", "nylig", "etterp\xC3\xA5", "f\xC3\xB8r", "etter", "siden",
    "igjen", "fortsatt", "fremdeles", "ellers", "kanskje", "trolig", "sannsynligvis",
    "heldigvis", "dessverre", "plutselig", "vanligvis", "ikke", "bare", "kun", "enda",
    "allerede", "snart", "straks", "lenge", "idag", "ig\xC3\xA5r", "ifjor", "forrige",
    "neste", "hele", "spesielt", "s\xC3\xA6rlig", "generelt", "totalt", "egentlig",
    "faktisk", "alts\xC3\xA5", "uansett", "videre", "deretter", "f\xC3\xB8rst", "sist",
    "tilslutt", "endelig", "hittil", "forel\xC3\xB8pig", "fremover", "if\xC3\xB8lge", "dermed",
    "hvis", "om", "n\xC3\xA5r", "mens", "fordi", "at", "og", "men", "eller", "som", "hei",
    "takk", "ja", "nei", "ok", "jo", "vel", "nettopp", "omtrent", "cirka", "ca", "mvh",
    "viktig", "klart", "sikkert", "greit", "bra", "fint", "godt", "sant", "rart",
    "innimellom", "stadig", "gradvis", "sjeldent", "enn\xC3\xA5", "delvis", "stort",
    "alene", "sammen", "hallo", "stefar", "fosterfar", "svigerfar", "besteforeldre", "to", "tre", "fire", "fem", "seks", "sju", "syv",
    "\xC3\xA5tte", "ni", "ti", "elleve", "tolv", "ett", "tredje", "annet", "slikt",
    "s\xC3\xA5nt",
    // Days, months, seasons, holidays.
    "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "l\xC3\xB8rdag", "s\xC3\xB8ndag",
    "januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "desember", "jul", "p\xC3\xA5ske", "ramadan", "eid", "sommer",
    "vinter", "h\xC3\xB8st", "v\xC3\xA5r", "helg", "helgen",
    // People and services a worry text talks about.
    "mor", "far", "mamma", "pappa", "mora", "jenta", "dattera", "kjerringa", "bestemora",
    "bestemor", "bestefar", "farmor", "mormor", "farfar", "morfar", "onkel", "tante",
    "foreldre", "s\xC3\xB8sken", "s\xC3\xB8ster", "bror", "barn", "gutt", "jente", "elev",
    "elever", "klasse", "klassa", "skole", "barnehage", "rektor", "styrer", "pedagog",
    "assistent", "fastlege", "lege", "psykolog", "helsesykepleier", "helses\xC3\xB8ster",
    "kontaktl\xC3\xA6rer", "l\xC3\xA6rer", "familie", "nav", "bup", "ppt", "pps", "bufetat",
    "statped", "politi", "barnevern", "kommune", "fylke", "sykehus", "tiltak", "m\xC3\xB8te",
    "frav\xC3\xA6r", "mobbing", "vold", "rus", "angst", "s\xC3\xB8vn", "mat", "skolen",
    // Definite feminine nouns end in -a like many names.
    "klokka", "uka", "natta", "helga", "senga", "d\xC3\xB8ra", "boka", "tida", "stua",
    "hytta", "gata", "bygda", "jakka", "vekta", "saka", "kona", "dama", "frua",
    "h\xC3\xA5nda", "sida", "lista", "mora", "tanta", "s\xC3\xB8stera", "venninna",
    "farmora", "mormora", "ungen", "ungene", "skoleuka", "timen", "dagen", "kvelden",
    "morgenen", "leksa", "lekser", "pausen", "maten", "kroppen",
    // School subjects, activities, languages, roles.
    "matte", "gym", "kropps\xC3\xB8ving", "musikk", "kunst", "korps", "fotball",
    "h\xC3\xA5ndball", "sv\xC3\xB8mming", "dans", "gaming", "somali", "tigrinja", "urdu", "dari",
    "farsi", "pashto", "nabo", "naboer", "tolk", "venner", "medelever", "voksne", "ansatte",
    // Words that open notes and messages.
    "svar", "sp\xC3\xB8rsm\xC3\xA5l", "hjelp", "beskjed", "info", "kontakt", "telefon",
    "tlf", "mobil", "epost", "adresse", "navn", "tema", "sak", "merk", "obs", "status",
    "bakgrunn", "grunn", "form\xC3\xA5l", "plan", "m\xC3\xA5l", "hjem", "skolevei",
    // Places.
    "norge", "sverige", "danmark", "finland", "polen", "syria", "somalia", "eritrea",
    "afghanistan", "ukraina", "irak", "iran", "europa", "afrika", "asia", "oslo", "bergen",
    "trondheim", "stavanger", "drammen", "fredrikstad", "kristiansand", "sandnes",
    "troms\xC3\xB8", "sarpsborg", "skien", "\xC3\xA5lesund", "sandefjord", "haugesund",
    "t\xC3\xB8nsberg", "moss", "porsgrunn", "bod\xC3\xB8", "arendal", "hamar", "larvik",
    "halden", "lillehammer", "molde", "harstad", "gj\xC3\xB8vik", "kongsberg", "viken",
    "innlandet", "vestland", "rogaland", "agder", "nordland", "troms", "finnmark",
    "tr\xC3\xB8ndelag", "telemark", "vestfold", "\xC3\xB8stfold", "akershus", "buskerud",
    // Apps, games and brands children's worries mention.
    "snapchat", "tiktok", "instagram", "facebook", "youtube", "fortnite", "minecraft",
    "roblox", "discord", "whatsapp", "messenger", "google", "iphone", "ipad", "playstation",
    "xbox", "netflix", "corona", "covid", "teams", "vipps"};

constexpr std::string_view kOrdinaryEndings[] = {
    "en", "et", "ene", "ane", "ing", "het", "else", "sjon", "skap", "dom", "tet",
    "isme", "er", "lig", "ig", "sk", "ste", "log", "pedagog", "terapeut", "ball", "\xC3\xB8r",
    "ikk", "lege", "mor", "nom", "ped", "ist"};
// clang-format on

}  // namespace

absl::Span<const std::string_view> CueWords() { return kCueWords; }
absl::Span<const std::string_view> SubjectVerbs() { return kSubjectVerbs; }
absl::Span<const std::string_view> ClauseAdverbs() { return kClauseAdverbs; }
absl::Span<const std::string_view> Conjunctions() { return kConjunctions; }
absl::Span<const std::string_view> OrdinarySubjects() { return kOrdinarySubjects; }
absl::Span<const std::string_view> OrdinaryEndings() { return kOrdinaryEndings; }

}  // namespace budstikke::pii::pii_internal
