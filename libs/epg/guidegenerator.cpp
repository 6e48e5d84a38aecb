#include "guidegenerator.h"

#include "xmltvwriter.h"

#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <core/streamedfile.h>

#include <algorithm>
#include <array>
#include <span>
#include <vector>

Q_LOGGING_CATEGORY(lcGuideGenerator, "iptv.epg.generator")

namespace iptv::epg {

namespace {

// ---------------------------------------------------------------------------------------------
// Randomness. Our own generator and integer mapping, because std:: distributions differ between
// standard libraries and the output must be byte-identical everywhere.

constexpr quint64 splitmix(quint64 x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

constexpr quint64 mix(quint64 a, quint64 b)
{
    return splitmix(a ^ splitmix(b + 0x632BE59BD9B4E019ull));
}

template<typename... Rest>
constexpr quint64 mix(quint64 a, quint64 b, Rest... rest)
{
    return mix(mix(a, b), quint64(rest)...);
}

class Rng
{
public:
    explicit Rng(quint64 seed) : m_state(seed) {}
    quint64 next() { return splitmix(m_state += 0x9E3779B97F4A7C15ull); }
    int below(int n) { return n <= 1 ? 0 : int(next() % quint64(n)); }
    int range(int lo, int hi) { return lo + below(hi - lo + 1); }
    bool chance(int percent) { return below(100) < percent; }
    template<typename T>
    const T &pick(std::span<const T> items) { return items[below(int(items.size()))]; }

private:
    quint64 m_state;
};

using Words = std::span<const QStringView>;

/// Substitutes %1..%9 by position. QString::arg() with several arguments renumbers the placeholders
/// that are present, so a pattern that skips %1 would get the wrong word.
QString fill(QStringView pattern, std::initializer_list<QStringView> args)
{
    QString out;
    out.reserve(pattern.size() + 32);
    for (qsizetype i = 0; i < pattern.size(); ++i) {
        const QChar c = pattern[i];
        if (c == u'%' && i + 1 < pattern.size() && pattern[i + 1] >= u'1' && pattern[i + 1] <= u'9') {
            const size_t n = size_t(pattern[i + 1].unicode() - u'1');
            if (n < args.size())
                out += *(args.begin() + n);
            ++i;
        } else {
            out += c;
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary. English is the richest; the other languages cover what their channels print most
// (titles, names, drama and news text) and fall back to English word lists for the rest, as
// real multi-language feeds do.

namespace en {
const QStringView firstNames[] = {
    u"James", u"Sarah", u"Michael", u"Emma", u"David", u"Olivia", u"Daniel", u"Grace", u"Thomas",
    u"Chloé", u"Seán", u"Siobhán", u"Aoife", u"Niamh", u"Ciarán", u"Zoë", u"Renée", u"José", u"Björn",
    u"Søren", u"Noah", u"Mia", u"Liam", u"Ava", u"Ethan", u"Isla", u"Lucas", u"Amelia", u"Oscar",
    u"Freya", u"Jack", u"Ruby", u"Harry", u"Lily", u"George", u"Ella", u"Samuel", u"Hannah", u"Adam",
    u"Leah", u"Ryan", u"Nora", u"Owen", u"Maeve", u"Patrick", u"Róisín", u"Eoin", u"Orla", u"Conor",
    u"Ellen", u"Marcus", u"Priya", u"Ahmed", u"Yusuf", u"Mei", u"Kenji", u"Fatima", u"Diego", u"Lucía",
    u"François", u"Helen", u"Frank", u"Rachel", u"Victor", u"Tessa", u"Cormac", u"Imelda", u"Declan"};
const QStringView lastNames[] = {
    u"Murphy", u"Kelly", u"O'Brien", u"Walsh", u"Byrne", u"Ryan", u"Smith", u"Johnson", u"Brown",
    u"Taylor", u"Wilson", u"Evans", u"Roberts", u"Walker", u"Wright", u"Green", u"Hall", u"Wood",
    u"Clarke", u"Hughes", u"Edwards", u"Turner", u"Hill", u"Moore", u"Martin", u"Jackson", u"White",
    u"Harris", u"Lewis", u"Young", u"King", u"Baker", u"Carter", u"Mitchell", u"Morgan", u"Cooper",
    u"Ward", u"Price", u"Bennett", u"Gallagher", u"Doyle", u"McCarthy", u"Ó Sé", u"Ní Bhriain",
    u"Müller", u"Novák", u"García", u"Núñez", u"Lefèvre", u"Kowalski", u"Andersen", u"Rossi", u"Costa",
    u"Nakamura", u"Chen", u"Patel", u"Okafor", u"Haddad", u"Reyes", u"Fitzgerald", u"Quinn", u"Sheridan"};
const QStringView titleAdjectives[] = {
    u"Silent", u"Broken", u"Golden", u"Hidden", u"Last", u"Northern", u"Dark", u"Bright", u"Lost",
    u"Wild", u"Secret", u"Iron", u"Blue", u"Crimson", u"Frozen", u"Burning", u"Quiet", u"Distant",
    u"Final", u"Endless", u"Little", u"Grand", u"Savage", u"Gentle", u"Restless", u"Electric",
    u"Midnight", u"Royal", u"Hollow", u"Shattered", u"Perfect", u"Deadly", u"Sweet", u"Fearless",
    u"Ancient", u"Stolen", u"Wicked", u"Lucky", u"Lonely", u"Brave", u"Silver", u"Eternal", u"Rising",
    u"Fallen", u"Open", u"Narrow", u"Crooked", u"Western", u"Southern", u"Emerald"};
const QStringView titleNouns[] = {
    u"Harbour", u"Street", u"Kingdom", u"River", u"Valley", u"Heights", u"Empire", u"Island", u"Garden",
    u"Station", u"Road", u"House", u"Line", u"Ward", u"Shore", u"Bay", u"Border", u"City", u"Frontier",
    u"Crossing", u"Summer", u"Winter", u"Storm", u"Tide", u"Fire", u"Heart", u"Promise", u"Secret",
    u"Legacy", u"Circle", u"Code", u"Signal", u"Echo", u"Shadow", u"Horizon", u"Mountain", u"Forest",
    u"Desert", u"Court", u"Academy", u"Hospital", u"Precinct", u"Manor", u"Farm", u"Market", u"Bridge",
    u"Tower", u"Lighthouse", u"Orchard", u"Canal", u"Garage", u"Kitchen", u"Diner", u"Hotel", u"Voyage",
    u"Journey", u"Return", u"Reckoning", u"Inheritance", u"Covenant", u"Alliance", u"Verdict",
    u"Witness", u"Detective", u"Doctor", u"Family", u"Sisters", u"Brothers", u"Neighbours", u"Strangers"};
const QStringView titlePatterns[] = {u"The %1 %2", u"%1 %2", u"%3 %2", u"The %2", u"Beyond the %2",
                                     u"After the %2", u"%2 of %3", u"The %2 and the %3"};
const QStringView verbs[] = {
    u"investigates", u"uncovers", u"confronts", u"tries to hide", u"discovers", u"races to stop",
    u"agrees to help with", u"is haunted by", u"stumbles upon", u"is accused of causing", u"plans",
    u"takes on", u"faces", u"returns home to deal with", u"learns the truth about", u"struggles to cope with",
    u"is caught up in", u"teams up with an old friend to solve", u"refuses to give up on", u"is shocked by",
    u"organises", u"gets to the bottom of", u"must deal with", u"lies about", u"is drawn into",
    u"takes charge of", u"walks away from", u"reveals", u"keeps quiet about", u"falls out over"};
const QStringView objects[] = {
    u"a shocking secret", u"an old rival", u"the truth about her father", u"a risky business deal",
    u"a mysterious disappearance", u"an unexpected proposal", u"a string of burglaries", u"the family farm",
    u"a missing painting", u"a cold case", u"an anonymous letter", u"a hospital emergency",
    u"a bitter custody battle", u"the village fête", u"a fraud investigation", u"a suspicious fire",
    u"a long-lost brother", u"a wedding nobody wanted", u"a dangerous smuggling ring", u"the election campaign",
    u"a difficult patient", u"a hit-and-run", u"an ambitious new boss", u"the school reunion", u"a stolen car",
    u"a charity gala", u"an ex-husband", u"the night shift", u"a blackmail plot", u"a kidnapping",
    u"a new recruit", u"an inheritance", u"a rival restaurant", u"a storm warning", u"the final exam",
    u"a tense negotiation", u"a forged will", u"a runaway teenager", u"a controversial verdict",
    u"an unsolved murder", u"a broken engagement", u"a fishing trawler lost at sea"};
const QStringView places[] = {
    u"at the hospital", u"in the village", u"at the harbour", u"on the night of the festival",
    u"at the station", u"in the city", u"on the island", u"at the farm", u"behind closed doors",
    u"at the office", u"during the storm", u"at the wedding", u"in the courtroom", u"at the pub",
    u"on the estate", u"in Dublin", u"in Manchester", u"in Boston", u"at the border", u"on the ward",
    u"at the school", u"in the countryside", u"after the funeral", u"on a stormy night", u"at the hotel",
    u"by the lake", u"in the old mill", u"at the precinct", u"on the beach", u"at the market"};
const QStringView connectors[] = {u"Meanwhile,", u"Elsewhere,", u"Later,", u"At home,", u"That evening,",
                                  u"Back at the station,"};
const QStringView closings[] = {
    u"New series.", u"Last in the series.", u"Contains strong language.", u"Concluded tomorrow.",
    u"Part one of two.", u"Part two of two.", u"Also in HD.", u"Followed by the news.", u"Drama series.",
    u"Contains some violence.", u"Subtitled.", u"Comedy series."};
const QStringView professions[] = {
    u"a retired detective", u"a young lawyer", u"a struggling musician", u"a single mother",
    u"a disgraced journalist", u"a small-town sheriff", u"an ambitious chef", u"a former soldier",
    u"a brilliant scientist", u"a teenage runaway", u"a con artist", u"a widowed farmer", u"a rookie cop",
    u"a famous novelist", u"a lonely astronaut", u"a hotel maid", u"a grieving father", u"an art thief",
    u"a schoolteacher", u"a boxing coach", u"a country vet", u"a night-shift nurse"};
const QStringView filmGenres[] = {u"Drama", u"Thriller", u"Comedy", u"Action", u"Romance", u"Western",
                                  u"Science fiction", u"Horror", u"Crime", u"Adventure", u"Family"};
const QStringView docTopics[] = {
    u"the Arctic", u"the Amazon rainforest", u"ancient Rome", u"the Industrial Revolution",
    u"deep-sea creatures", u"honeybees", u"volcanoes", u"the human brain", u"the Silk Road",
    u"medieval castles", u"the Moon landings", u"African elephants", u"coral reefs", u"the Vikings",
    u"the Great Famine", u"black holes", u"Irish bogs", u"the Greek islands", u"the history of flight",
    u"the Atlantic salmon", u"lost cities", u"the Cold War", u"railway engineering", u"wild orchids",
    u"the Pacific Ocean", u"desert survival", u"the Tudors", u"the age of steam", u"urban foxes"};
const QStringView docVerbs[] = {u"explores", u"reveals the story of", u"investigates", u"travels to discover",
                                u"follows the people behind", u"takes a fresh look at", u"uncovers the secrets of"};
const QStringView docSubjects[] = {u"This documentary", u"The series", u"This film", u"This episode"};
const QStringView docExtras[] = {
    u"With never-before-seen footage.", u"Experts explain how it changed the world.",
    u"Filmed over three years.", u"Featuring interviews with historians and local people.",
    u"Part of a season on the natural world.", u"Using the latest scientific research."};
const QStringView kidsCharacters[] = {u"Milo", u"Pip", u"Luna", u"Bubbles", u"Captain Cat", u"Tilly",
                                      u"Ziggy", u"Bo", u"Rosie", u"Little Owl", u"Dino", u"Robo",
                                      u"Penny", u"Sunny", u"Koko", u"Barnaby"};
const QStringView kidsNouns[] = {u"Rocket", u"Dino", u"Bunny", u"Robot", u"Pirate", u"Dragon", u"Monster",
                                 u"Fairy", u"Ocean", u"Jungle", u"Puppy", u"Space"};
const QStringView kidsPatterns[] = {u"%1 and Friends", u"The Adventures of %1", u"%1's World", u"Little %2s",
                                    u"%2 Patrol", u"%2 Academy", u"Super %2"};
const QStringView kidsActions[] = {
    u"learns to share", u"finds a lost kitten", u"goes to the beach", u"builds a rocket", u"has a bad dream",
    u"makes a new friend", u"bakes a cake for Grandma", u"loses a tooth", u"plants a garden",
    u"visits the zoo", u"can't find the red crayon", u"is cranky", u"helps clean up the park",
    u"plays hide and seek", u"goes camping", u"learns to count to ten", u"paints a picture", u"gets a puppy"};
const QStringView newsTitles[] = {u"Breakfast News", u"Morning Edition", u"News at One", u"Lunchtime News",
                                  u"Six O'Clock News", u"Evening News", u"News at Nine", u"Late News"};
const QStringView newsChannelTitles[] = {u"News", u"World News", u"Business Today", u"Sports Desk",
                                         u"The Briefing", u"News Review", u"Weather Watch", u"Politics Live",
                                         u"Global Report", u"Newsday", u"The Papers", u"Reporters"};
const QStringView newsDescs[] = {
    u"The latest national and international news, with sport and weather.", u"News, weather and sport.",
    u"Latest news and weather.", u"The day's top stories from home and abroad.",
    u"National and international news.", u"Headlines, business news and the weather forecast.",
    u"News and current affairs, with reports from around the country.",
    u"The latest news, sport and weather, followed by a look at the papers."};
const QStringView competitions[] = {u"Premier League Football", u"National Hurling League", u"Euro Basketball",
                                    u"World Tour Tennis", u"Masters Golf", u"Grand Prix Racing",
                                    u"Pro Cycling Tour", u"Rugby Championship", u"Super League Handball",
                                    u"World Athletics", u"Champions Cup", u"Women's Super League"};
const QStringView sportKinds[] = {u"Football", u"Hurling", u"Basketball", u"Tennis", u"Golf", u"Motorsport",
                                  u"Cycling", u"Rugby", u"Handball", u"Athletics", u"Football", u"Football"};
const QStringView cities[] = {u"Dublin", u"Cork", u"Galway", u"Limerick", u"Athens", u"Thessaloniki",
                              u"Manchester", u"Leeds", u"Boston", u"Chicago", u"Madrid", u"Sevilla",
                              u"Lyon", u"Marseille", u"Munich", u"Hamburg", u"Osaka", u"Porto", u"Turin",
                              u"Glasgow", u"Kilkenny", u"Derry", u"Bristol", u"Denver"};
const QStringView teamSuffixes[] = {u"United", u"City", u"Rovers", u"Athletic", u"Wanderers", u"Rangers",
                                    u"FC", u"Celtic", u"Olympic", u"Stars"};
const QStringView rounds[] = {u"quarter-final", u"semi-final", u"final", u"group stage", u"round 12",
                              u"round 3", u"opening round", u"play-off"};
const QStringView sportMagazines[] = {u"Sports Weekly", u"Match of the Week", u"Goals Extra", u"The Sunday Game",
                                      u"Inside Racing", u"Golf Today", u"Tennis Review", u"Rugby Tonight"};
const QStringView lifestylePatterns[] = {u"%1's Kitchen", u"Escape to the %2", u"%2 Rescue", u"Weekend %2",
                                         u"At Home with %1", u"The Great %2 Bake-Off", u"%2 Hunters"};
const QStringView lifestyleVerbs[] = {u"cooks", u"visits", u"renovates", u"explores", u"helps a family find",
                                      u"shops for", u"transforms"};
const QStringView lifestyleObjects[] = {
    u"a three-course meal for friends", u"a Victorian terrace", u"the markets of Marrakech",
    u"a coastal cottage", u"a neglected garden", u"the perfect sourdough", u"a farmhouse in Kerry",
    u"a budget holiday in Portugal", u"a tiny city apartment", u"a vintage caravan"};
const QStringView talkPatterns[] = {u"The %1 Show", u"Late Night with %1", u"%1 Tonight", u"Saturday Night with %1"};
const QStringView musicTitles[] = {u"Top 40 Hits", u"Classic Videos", u"Music Non-Stop", u"Chart Show",
                                   u"Rock Anthems", u"Chill Out Zone", u"Dance Floor", u"Country Roads"};
const QStringView musicDescs[] = {u"Non-stop music videos.", u"The biggest hits of the week.",
                                  u"Classic music videos from the eighties and nineties."};
const QStringView fillerTitles[] = {u"Weather", u"News Update", u"Lottery Results", u"Short Film",
                                    u"Music Break", u"Programmes Resume", u"Nature Moments"};
const QStringView fillerDescs[] = {u"The latest weather forecast.", u"A brief update of the day's news.",
                                   u"Tonight's lottery draw.", u"An award-winning short film.",
                                   u"Music.", u"Programmes resume shortly.", u"Scenes from the natural world."};
const QStringView shoppingTitles[] = {u"Teleshopping", u"Home Shopping", u"Shop from Home"};
const QStringView shoppingDescs[] = {u"Home shopping.", u"Products for you and your home."};
const QStringView brands[] = {
    u"Nova", u"Atlas", u"Horizon", u"Meridian", u"Polaris", u"Zenith", u"Aurora", u"Vega", u"Orion",
    u"Lumen", u"Apex", u"Summit", u"Coral", u"Harbour", u"Emerald", u"Cobalt", u"Crimson", u"Solar",
    u"Tempo", u"Vista", u"Prime", u"Pulse", u"Echo", u"Nimbus", u"Beacon", u"Kestrel", u"Shamrock",
    u"Liberty", u"Pioneer", u"Sterling"};
} // namespace en

namespace el {
const QStringView firstNames[] = {u"Γιώργος", u"Μαρία", u"Νίκος", u"Ελένη", u"Κώστας", u"Κατερίνα",
                                  u"Δημήτρης", u"Σοφία", u"Γιάννης", u"Αναστασία", u"Παναγιώτης",
                                  u"Βασιλική", u"Χρήστος", u"Ευαγγελία", u"Αλέξανδρος", u"Δέσποινα",
                                  u"Σταύρος", u"Αγγελική", u"Θανάσης", u"Ιωάννα"};
const QStringView lastNames[] = {u"Παπαδόπουλος", u"Οικονόμου", u"Γεωργίου", u"Νικολάου", u"Παπαδάκης",
                                 u"Βλάχος", u"Αντωνίου", u"Ιωάννου", u"Κωνσταντίνου", u"Δημητρίου",
                                 u"Μακρής", u"Αλεξίου", u"Σταματίου", u"Καραγιάννης", u"Πετρόπουλος", u"Χατζής"};
const QStringView titleAdjectives[] = {u"Χαμένη", u"Μεγάλη", u"Σκοτεινή", u"Κρυφή", u"Τελευταία", u"Άγρια",
                                       u"Γλυκιά", u"Μαύρη", u"Λευκή", u"Παλιά", u"Καινούργια", u"Μικρή",
                                       u"Όμορφη", u"Σιωπηλή", u"Καυτή"};
const QStringView titleNouns[] = {u"Αγάπη", u"Πόλη", u"Θάλασσα", u"Οικογένεια", u"Καρδιά", u"Γειτονιά",
                                  u"Αλήθεια", u"Ζωή", u"Νύχτα", u"Μοίρα", u"Σιωπή", u"Κληρονομιά", u"Γη",
                                  u"Πατρίδα", u"Φωτιά", u"Ιστορία", u"Κουζίνα", u"Αυλή"};
const QStringView titlePatterns[] = {u"Η %1 %2", u"%1 %2", u"Η %2", u"%2 και %3", u"Πέρα από τη %2"};
const QStringView verbs[] = {u"ανακαλύπτει", u"έρχεται αντιμέτωπος με", u"προσπαθεί να κρύψει", u"αποκαλύπτει",
                             u"ερευνά", u"αντιμετωπίζει", u"μαθαίνει την αλήθεια για", u"οργανώνει",
                             u"αρνείται", u"αποφασίζει να βοηθήσει με"};
const QStringView objects[] = {u"ένα σκοτεινό μυστικό", u"την αλήθεια για τον πατέρα της", u"μια παλιά αγάπη",
                               u"ένα επικίνδυνο σχέδιο", u"μια μυστηριώδη εξαφάνιση", u"τον γάμο της αδελφής του",
                               u"ένα ανώνυμο γράμμα", u"μια δύσκολη απόφαση", u"τα χρέη της οικογένειας",
                               u"έναν παλιό εχθρό"};
const QStringView places[] = {u"στο χωριό", u"στο νοσοκομείο", u"στο λιμάνι", u"στην Αθήνα", u"στη Θεσσαλονίκη",
                              u"στο νησί", u"στο γραφείο", u"στο σπίτι", u"στην ταβέρνα", u"στο δικαστήριο"};
const QStringView connectors[] = {u"Στο μεταξύ,", u"Αργότερα,", u"Την ίδια ώρα,"};
const QStringView closings[] = {u"Ελληνική σειρά.", u"Τελευταίο επεισόδιο.", u"Καινούργιο επεισόδιο.",
                                u"Κοινωνική σειρά."};
const QStringView professions[] = {u"ένας συνταξιούχος αστυνομικός", u"μια νεαρή δικηγόρος", u"ένας ψαράς",
                                   u"μια δασκάλα", u"ένας δημοσιογράφος", u"ένας μουσικός"};
const QStringView newsTitles[] = {u"Καλημέρα Ελλάδα", u"Ειδήσεις", u"Μεσημεριανό Δελτίο Ειδήσεων",
                                  u"Ειδήσεις - Αθλητικά - Καιρός", u"Κεντρικό Δελτίο Ειδήσεων",
                                  u"Δελτίο Ειδήσεων στη Νοηματική", u"Βραδινό Δελτίο", u"Τελευταίες Ειδήσεις"};
const QStringView newsDescs[] = {u"Ενημέρωση για την επικαιρότητα στην Ελλάδα και τον κόσμο.",
                                 u"Οι σημαντικότερες ειδήσεις της ημέρας.",
                                 u"Δεν υπάρχουν πληροφορίες προγράμματος"};
const QStringView docTopics[] = {u"την Ακρόπολη", u"τα ελληνικά νησιά", u"την αρχαία Ολυμπία", u"τον Όλυμπο",
                                 u"την Κρήτη", u"το Βυζάντιο", u"τη Μακεδονία", u"την ελληνική κουζίνα"};
const QStringView docVerbs[] = {u"εξερευνά", u"παρουσιάζει την ιστορία για", u"ταξιδεύει για να γνωρίσει"};
const QStringView docSubjects[] = {u"Το ντοκιμαντέρ", u"Η σειρά", u"Η εκπομπή"};
const QStringView cities[] = {u"Αθήνα", u"Πειραιάς", u"Θεσσαλονίκη", u"Πάτρα", u"Ηράκλειο", u"Λάρισα",
                              u"Βόλος", u"Ιωάννινα", u"Καλαμάτα", u"Ξάνθη"};
const QStringView brands[] = {u"Αιγαίο", u"Ολυμπία", u"Κρήτη", u"Ιόνιο", u"Ακρόπολις", u"Πήγασος", u"Ερμής"};
} // namespace el

namespace fr {
const QStringView firstNames[] = {u"Jean", u"Amélie", u"François", u"Hélène", u"Léa", u"Noémie", u"Benoît",
                                  u"Cécile", u"Jérôme", u"Élodie", u"Théo", u"Inès", u"Loïc", u"Margaux"};
const QStringView lastNames[] = {u"Martin", u"Bernard", u"Lefèvre", u"Dubois", u"Moreau", u"Girard", u"Rousseau",
                                 u"Mercier", u"Faure", u"Chévalier", u"Lemaître", u"Bézier"};
const QStringView titleAdjectives[] = {u"Dernière", u"Grande", u"Petite", u"Belle", u"Sombre", u"Secrète",
                                       u"Éternelle", u"Douce", u"Folle", u"Première"};
const QStringView titleNouns[] = {u"Côte", u"Rue", u"Vallée", u"Maison", u"Rivière", u"Étoile", u"Forêt",
                                  u"Île", u"Gare", u"Frontière", u"Saison", u"Enquête", u"Mémoire"};
const QStringView titlePatterns[] = {u"La %1 %2", u"La %2", u"Les Secrets de la %2", u"%2 et %3", u"Une %2 %1"};
const QStringView verbs[] = {u"enquête sur", u"découvre", u"affronte", u"tente de cacher", u"révèle",
                             u"se retrouve mêlé à", u"apprend la vérité sur", u"organise"};
const QStringView objects[] = {u"une mystérieuse disparition", u"un lourd secret", u"un ancien rival",
                               u"un héritage inattendu", u"un vol de tableaux", u"une lettre anonyme",
                               u"un mariage compliqué", u"une affaire classée"};
const QStringView places[] = {u"au village", u"à l'hôpital", u"sur le port", u"à Marseille", u"à Lyon",
                              u"dans les Alpes", u"au commissariat", u"à la ferme"};
const QStringView connectors[] = {u"Pendant ce temps,", u"Plus tard,", u"De son côté,"};
const QStringView newsTitles[] = {u"Le Journal de 7h", u"Le 13 Heures", u"Le 20 Heures", u"Soir 3",
                                  u"Le Journal", u"Météo", u"Journal de la nuit", u"Les Infos"};
const QStringView newsDescs[] = {u"L'actualité nationale et internationale.", u"Les titres de l'actualité et la météo."};
} // namespace fr

namespace es {
const QStringView firstNames[] = {u"José", u"María", u"Ángel", u"Lucía", u"Martín", u"Sofía", u"Andrés",
                                  u"Inés", u"Rubén", u"Begoña", u"Íñigo", u"Raquel"};
const QStringView lastNames[] = {u"García", u"Fernández", u"López", u"Martínez", u"Sánchez", u"Pérez",
                                 u"Gómez", u"Núñez", u"Ibáñez", u"Muñoz"};
const QStringView titleAdjectives[] = {u"Última", u"Gran", u"Pequeña", u"Oscura", u"Secreta", u"Perdida",
                                       u"Dulce", u"Salvaje"};
const QStringView titleNouns[] = {u"Calle", u"Casa", u"Isla", u"Frontera", u"Estación", u"Familia", u"Verdad",
                                  u"Herencia", u"Noche", u"Ciudad", u"Pasión"};
const QStringView titlePatterns[] = {u"La %1 %2", u"La %2", u"%2 y %3", u"Una %2 %1"};
const QStringView verbs[] = {u"investiga", u"descubre", u"se enfrenta a", u"intenta ocultar", u"revela",
                             u"organiza", u"averigua la verdad sobre"};
const QStringView objects[] = {u"un secreto familiar", u"una desaparición misteriosa", u"un viejo rival",
                               u"una herencia inesperada", u"una carta anónima", u"una boda complicada"};
const QStringView places[] = {u"en el pueblo", u"en el hospital", u"en el puerto", u"en Madrid", u"en Sevilla",
                              u"en la comisaría", u"en el cortijo"};
const QStringView connectors[] = {u"Mientras tanto,", u"Más tarde,"};
const QStringView newsTitles[] = {u"Telediario Matinal", u"Telediario 1", u"Telediario 2", u"Noticias",
                                  u"La Mañana", u"El Tiempo", u"Noticias de la Noche", u"Informativo"};
const QStringView newsDescs[] = {u"Información nacional e internacional.", u"Las noticias del día y el tiempo."};
} // namespace es

namespace de {
const QStringView firstNames[] = {u"Jürgen", u"Anna", u"Lukas", u"Jörg", u"Sophie", u"Björn", u"Käthe",
                                  u"Maximilian", u"Lena", u"Uwe", u"Hannah", u"Günther"};
const QStringView lastNames[] = {u"Müller", u"Schmidt", u"Schneider", u"Fischer", u"Weiß", u"Schäfer",
                                 u"Köhler", u"Groß", u"Böhm", u"Krüger"};
const QStringView titleAdjectives[] = {u"Letzte", u"Große", u"Kleine", u"Dunkle", u"Geheime", u"Verlorene",
                                       u"Stille", u"Wilde"};
const QStringView titleNouns[] = {u"Straße", u"Küste", u"Stadt", u"Grenze", u"Familie", u"Wahrheit", u"Nacht",
                                  u"Insel", u"Brücke", u"Spur"};
const QStringView titlePatterns[] = {u"Die %1 %2", u"Die %2", u"%2 und %3", u"Tatort %2"};
const QStringView verbs[] = {u"ermittelt in", u"entdeckt", u"konfrontiert", u"verheimlicht", u"enthüllt",
                             u"organisiert"};
const QStringView objects[] = {u"ein dunkles Geheimnis", u"einen rätselhaften Fall", u"einen alten Rivalen",
                               u"ein unerwartetes Erbe", u"einen anonymen Brief"};
const QStringView places[] = {u"in München", u"in Hamburg", u"auf dem Land", u"im Krankenhaus",
                              u"an der Küste", u"im Präsidium"};
const QStringView connectors[] = {u"Unterdessen", u"Später"};
const QStringView newsTitles[] = {u"Morgenmagazin", u"Mittagsmagazin", u"Tagesschau", u"Nachrichten",
                                  u"heute", u"Wetter", u"Nachtmagazin", u"Tagesthemen"};
const QStringView newsDescs[] = {u"Aktuelle Nachrichten aus dem In- und Ausland.", u"Nachrichten und Wetter."};
} // namespace de

namespace ja {
const QStringView firstNames[] = {u"健太", u"美咲", u"大輔", u"陽子", u"翔", u"さくら", u"拓也", u"結衣"};
const QStringView lastNames[] = {u"佐藤", u"鈴木", u"高橋", u"田中", u"渡辺", u"伊藤", u"山本", u"中村"};
const QStringView titleAdjectives[] = {u"夜の", u"東京", u"青い", u"最後の", u"秘密の", u"小さな"};
const QStringView titleNouns[] = {u"探偵", u"物語", u"料理", u"旅", u"家族", u"海", u"夏", u"恋", u"学校", u"警察"};
const QStringView titlePatterns[] = {u"%1%2", u"%2と%3", u"%1%2 スペシャル"};
const QStringView verbs[] = {u"追う", u"探す", u"知る", u"隠す", u"守る"};
const QStringView objects[] = {u"秘密", u"真実", u"事件", u"約束", u"過去"};
const QStringView places[] = {u"東京", u"大阪", u"病院", u"学校", u"港町"};
const QStringView connectors[] = {u"一方、", u"その夜、"};
const QStringView newsTitles[] = {u"おはようニュース", u"ニュース", u"昼のニュース", u"ニュース7",
                                  u"ニュースウオッチ", u"天気予報", u"夜のニュース", u"最新ニュース"};
const QStringView newsDescs[] = {u"国内外の最新ニュースをお伝えします。", u"ニュースと天気。"};
const QStringView brands[] = {u"さくら", u"ひかり", u"東京", u"みらい"};
} // namespace ja

enum class Lang : quint8 { En, El, Fr, Es, De, Ja };

struct Lexicon
{
    QStringView code;
    bool spaces = true;          ///< words are separated by spaces
    QStringView sentence;        ///< %1 name, %2 verb, %3 object, %4 place
    QStringView filmSentence;    ///< %1 name, %2 verb, %3 object, %4 place, %5 profession
    QStringView episodeWord;
    QStringView noInfo;
    QStringView ratingSystem;
    Words ratings;
    Words firstNames, lastNames, titleAdjectives, titleNouns, titlePatterns, verbs, objects, places,
        connectors, closings, professions, newsTitles, newsDescs, docTopics, docVerbs, docSubjects, cities, brands;
};

const QStringView kEnRatings[] = {u"TV-G", u"TV-PG", u"TV-PG", u"TV-14", u"TV-MA"};
const QStringView kElRatings[] = {u"K", u"K8", u"K12", u"K12", u"K16", u"K18"};
const QStringView kFrRatings[] = {u"Tous publics", u"-10", u"-12", u"-16"};
const QStringView kEsRatings[] = {u"TP", u"7", u"12", u"16", u"18"};
const QStringView kDeRatings[] = {u"0", u"6", u"12", u"16", u"18"};
const QStringView kJaRatings[] = {u"G", u"PG12", u"R15+"};

const Lexicon &lexicon(Lang lang)
{
    static const std::array<Lexicon, 6> all = [] {
        std::array<Lexicon, 6> l;
        Lexicon &e = l[0];
        e = Lexicon{u"en", true, u"%1 %2 %3 %4.", u"%1, %5, %2 %3 %4.", u"Episode",
                    u"No programme information available.", u"VCHIP", kEnRatings,
                    en::firstNames, en::lastNames, en::titleAdjectives, en::titleNouns, en::titlePatterns,
                    en::verbs, en::objects, en::places, en::connectors, en::closings, en::professions,
                    en::newsTitles, en::newsDescs, en::docTopics, en::docVerbs, en::docSubjects, en::cities,
                    en::brands};
        auto withFallback = [&e](Lexicon x) {
            // Lists a language does not have come from English, as mixed-language feeds do.
            auto fill = [](Words &w, Words fallback) { if (w.empty()) w = fallback; };
            fill(x.closings, e.closings);
            fill(x.professions, e.professions);
            fill(x.docTopics, e.docTopics);
            fill(x.docVerbs, e.docVerbs);
            fill(x.docSubjects, e.docSubjects);
            fill(x.cities, e.cities);
            fill(x.brands, e.brands);
            return x;
        };
        l[1] = withFallback({u"el", true, u"%1 %2 %3 %4.", u"%1, %5, %2 %3 %4.", u"Επεισόδιο",
                             u"Δεν υπάρχουν πληροφορίες προγράμματος", u"Greek", kElRatings,
                             el::firstNames, el::lastNames, el::titleAdjectives, el::titleNouns, el::titlePatterns,
                             el::verbs, el::objects, el::places, el::connectors, el::closings, el::professions,
                             el::newsTitles, el::newsDescs, el::docTopics, el::docVerbs, el::docSubjects,
                             el::cities, el::brands});
        l[2] = withFallback({u"fr", true, u"%1 %2 %3 %4.", u"%1, %5, %2 %3 %4.", u"Épisode",
                             u"Pas d'information sur ce programme.", u"CSA", kFrRatings,
                             fr::firstNames, fr::lastNames, fr::titleAdjectives, fr::titleNouns, fr::titlePatterns,
                             fr::verbs, fr::objects, fr::places, fr::connectors, {}, {}, fr::newsTitles,
                             fr::newsDescs, {}, {}, {}, {}, {}});
        l[3] = withFallback({u"es", true, u"%1 %2 %3 %4.", u"%1, %5, %2 %3 %4.", u"Episodio",
                             u"Sin información del programa.", u"ICAA", kEsRatings,
                             es::firstNames, es::lastNames, es::titleAdjectives, es::titleNouns, es::titlePatterns,
                             es::verbs, es::objects, es::places, es::connectors, {}, {}, es::newsTitles,
                             es::newsDescs, {}, {}, {}, {}, {}});
        l[4] = withFallback({u"de", true, u"%1 %2 %3 %4.", u"%1, %5, %2 %3 %4.", u"Folge",
                             u"Keine Programminformationen verfügbar.", u"FSK", kDeRatings,
                             de::firstNames, de::lastNames, de::titleAdjectives, de::titleNouns, de::titlePatterns,
                             de::verbs, de::objects, de::places, de::connectors, {}, {}, de::newsTitles,
                             de::newsDescs, {}, {}, {}, {}, {}});
        l[5] = withFallback({u"ja", false, u"%1は%4で%3を%2。", u"%5の%1は%4で%3を%2。", u"第%1話",
                             u"番組情報はありません。", u"EIRIN", kJaRatings,
                             ja::firstNames, ja::lastNames, ja::titleAdjectives, ja::titleNouns, ja::titlePatterns,
                             ja::verbs, ja::objects, ja::places, ja::connectors, {}, {}, ja::newsTitles,
                             ja::newsDescs, {}, {}, {}, {}, ja::brands});
        return l;
    }();
    return all[size_t(lang)];
}

// ---------------------------------------------------------------------------------------------
// Channels, shows and the weekly grid.

enum class Genre : quint8 {
    News, Sport, SportMagazine, Film, Kids, Drama, Comedy, Soap, Documentary, Lifestyle, Talk, Music,
    Filler, Shopping, Count
};
constexpr int GenreCount = int(Genre::Count);

enum class Kind : quint8 { General, News, Sport, Movies, Kids, Drama, Documentary, Music, Lifestyle };

struct Show
{
    Genre genre = Genre::Drama;
    quint64 key = 0;
    int length = 30;     ///< minutes
    int seasons = 1;
    int episodes = 10;   ///< per season
    int offset = 0;      ///< where the show's episode sequence starts
    bool current = false; ///< its last season is airing now, so prime-time airings are new
};

struct Block
{
    int start = 0;   ///< minute of the local day
    int length = 0;
    Genre genre = Genre::Filler;
    int show = -1;      ///< index into the channel's shows
    int repeatOf = -1;  ///< night repeat of the previous day's block with this index
    int occurrence = 0; ///< how many earlier blocks of the same template carry the same show
    int anchor = -1;    ///< index of the fixed news slot this block is, -1 when none
};

struct ChannelProfile
{
    int index = 0;
    quint64 key = 0;
    Kind kind = Kind::General;
    Lang lang = Lang::En;
    bool bilingual = false;  ///< titles and descriptions also in English
    int utcOffset = 0;
    bool hd = false;
    bool videoElements = true;
    bool teletext = false;
    bool programmeIcons = false;
    bool sparse = false;     ///< a feed that gives little more than titles, like the Greek files
    QString id;
    QString name;
    QList<Show> shows;
    std::array<QList<int>, GenreCount> showsByGenre;
    std::array<std::vector<Block>, 7> week; ///< Monday first
};

constexpr int Night = 360; // 06:00; the night part of each day is built after the rest of the week

Kind kindFor(Rng &rng)
{
    // Weights per kind, roughly what a large operator's lineup carries.
    static constexpr std::array<int, 9> weights = {30, 8, 10, 10, 8, 10, 10, 7, 7};
    int r = rng.below(100);
    for (size_t i = 0; i < weights.size(); ++i) {
        if (r < weights[i])
            return Kind(i);
        r -= weights[i];
    }
    return Kind::General;
}

Lang langFor(Rng &rng)
{
    const int r = rng.below(100);
    if (r < 78) return Lang::En;
    if (r < 87) return Lang::El;
    if (r < 91) return Lang::Fr;
    if (r < 94) return Lang::Es;
    if (r < 97) return Lang::De;
    return Lang::Ja;
}

int offsetFor(Lang lang, Rng &rng)
{
    switch (lang) {
    case Lang::El: return 2 * 3600;
    case Lang::Fr: case Lang::Es: case Lang::De: return 3600;
    case Lang::Ja: return 9 * 3600;
    case Lang::En: break;
    }
    static constexpr int offsets[] = {0, 0, 0, 3600, -5 * 3600, -5 * 3600, -8 * 3600, 10 * 3600};
    return offsets[rng.below(int(std::size(offsets)))];
}

QString channelBaseName(Kind kind, const Lexicon &lex, Rng &rng)
{
    const QString brand = lex.brands[rng.below(int(lex.brands.size()))].toString();
    const bool ja = lex.code == u"ja";
    const bool greek = lex.code == u"el";
    auto pick = [&rng](std::initializer_list<QStringView> names) {
        return (names.begin() + rng.below(int(names.size())))->toString();
    };
    QString suffix;
    switch (kind) {
    case Kind::General: suffix = ja ? pick({u"テレビ", u"放送"}) : greek ? pick({u"TV", u"Τηλεόραση"}) : pick({u"One", u"TV", u"Two", u"Television"}); break;
    case Kind::News: suffix = ja ? u"ニュース"_qs : greek ? u"Ειδήσεις"_qs : pick({u"News", u"News 24", u"World"}); break;
    case Kind::Sport: suffix = greek ? u"Sports"_qs : pick({u"Sports", u"Sport", u"Sports Extra"}); break;
    case Kind::Movies: suffix = ja ? u"映画"_qs : greek ? u"Cinema"_qs : pick({u"Cinema", u"Movies", u"Film Four"}); break;
    case Kind::Kids: suffix = ja ? u"キッズ"_qs : pick({u"Kids", u"Junior", u"Toons"}); break;
    case Kind::Drama: suffix = pick({u"Drama", u"Comedy", u"Gold"}); break;
    case Kind::Documentary: suffix = greek ? u"Ντοκιμαντέρ"_qs : pick({u"Discovery", u"History", u"Nature"}); break;
    case Kind::Music: suffix = pick({u"Music", u"Hits", u"Classic"}); break;
    case Kind::Lifestyle: suffix = pick({u"Living", u"Food", u"Travel", u"Home"}); break;
    }
    if (ja && suffix.at(0).unicode() >= 0x3000) // Japanese words run together; a Latin suffix gets a space
        return brand + suffix;
    return brand + u' ' + suffix;
}

// Which genres a channel of a kind airs, and in which amounts (weights per daypart are applied on top).
std::array<int, GenreCount> genreMix(Kind kind)
{
    //                 News Spo SMg Flm Kid Drm Com Sop Doc Lif Tlk Mus Fil Shp
    switch (kind) {
    case Kind::General:     return {0, 2, 2, 10, 6, 14, 10, 8, 6, 8, 5, 0, 0, 2};
    case Kind::News:        return {60, 0, 4, 0, 0, 0, 0, 0, 12, 4, 10, 0, 0, 0};
    case Kind::Sport:       return {0, 30, 20, 0, 0, 0, 0, 0, 4, 0, 2, 0, 0, 2};
    case Kind::Movies:      return {0, 0, 0, 60, 0, 2, 2, 0, 2, 0, 0, 0, 0, 0};
    case Kind::Kids:        return {0, 0, 0, 6, 60, 0, 4, 0, 2, 0, 0, 0, 0, 0};
    case Kind::Drama:       return {0, 0, 0, 10, 0, 30, 24, 10, 0, 0, 2, 0, 0, 2};
    case Kind::Documentary: return {0, 0, 0, 2, 0, 0, 0, 0, 50, 10, 0, 0, 0, 2};
    case Kind::Music:       return {0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 2, 40, 0, 2};
    case Kind::Lifestyle:   return {0, 0, 0, 0, 0, 2, 2, 0, 8, 40, 6, 0, 0, 4};
    }
    return {};
}

int daypartWeight(Genre g, int minute)
{
    const int hour = minute / 60;
    switch (g) {
    case Genre::Kids: return hour < 9 ? 4 : hour < 17 ? 2 : hour < 19 ? 2 : 0;
    case Genre::Film: return hour >= 20 ? 4 : hour >= 13 ? 2 : 1;
    case Genre::Drama: return hour >= 20 ? 5 : hour >= 17 ? 2 : 1;
    case Genre::Comedy: return hour >= 19 ? 3 : 1;
    case Genre::Soap: return hour >= 12 && hour < 21 ? 4 : 0;
    case Genre::Talk: return hour >= 9 && hour < 12 ? 4 : hour >= 22 ? 3 : 1;
    case Genre::Lifestyle: return hour < 19 ? 3 : 1;
    case Genre::Shopping: return hour < 9 || hour >= 23 ? 3 : 0;
    case Genre::Sport: return hour >= 12 ? 3 : 1;
    default: return 2;
    }
}

int pickLength(Rng &rng, std::initializer_list<int> lengths)
{
    return *(lengths.begin() + rng.below(int(lengths.size())));
}

// Show attributes depend only on the show's key, so a show syndicated on two channels is the same show.
Show makeShow(Genre genre, quint64 key)
{
    Rng rng(key);
    Show s;
    s.genre = genre;
    s.key = key;
    switch (genre) {
    case Genre::Drama: s.length = pickLength(rng, {60, 60, 60, 45, 30}); s.seasons = rng.range(1, 8); s.episodes = rng.range(6, 13); break;
    case Genre::Comedy: s.length = pickLength(rng, {30, 30, 30, 25, 60}); s.seasons = rng.range(1, 10); s.episodes = rng.range(6, 22); break;
    case Genre::Soap: s.length = 30; s.seasons = rng.range(5, 40); s.episodes = rng.range(150, 250); break;
    case Genre::Kids: s.length = pickLength(rng, {30, 30, 25, 15, 30, 10, 30, 25}); s.seasons = rng.range(1, 5); s.episodes = rng.range(20, 52); break;
    case Genre::Documentary: s.length = pickLength(rng, {60, 60, 30, 50}); s.seasons = rng.range(1, 3); s.episodes = rng.range(4, 10); break;
    case Genre::Lifestyle: s.length = pickLength(rng, {30, 60, 30}); s.seasons = rng.range(1, 12); s.episodes = rng.range(8, 20); break;
    case Genre::Talk: s.length = 60; s.seasons = rng.range(1, 20); s.episodes = 200; break;
    case Genre::SportMagazine: s.length = pickLength(rng, {30, 60}); s.seasons = rng.range(1, 30); s.episodes = 40; break;
    case Genre::Music: s.length = pickLength(rng, {60, 120, 180}); s.seasons = 1; s.episodes = 1; break;
    default: s.length = 30; s.seasons = 1; s.episodes = 1; break;
    }
    s.offset = rng.below(s.seasons * s.episodes);
    s.current = rng.chance(60);
    return s;
}

} // namespace

struct GuideGenerator::Private
{
    GuideGeneratorOptions options;
    QList<ChannelProfile> channels; // identity only; grids are built when a channel is generated

    // Repeats draw their programme from any channel, so with repeatShare the grids are kept.
    mutable QMutex profileMutex;
    mutable std::vector<std::unique_ptr<const ChannelProfile>> profiles;

    ChannelProfile profile(int index) const;
    const ChannelProfile &cachedProfile(int index) const;
    void buildWeek(ChannelProfile &p) const;
    void buildDay(ChannelProfile &p, int weekday) const;
    std::vector<Block> buildNight(const ChannelProfile &p, int weekday) const;
    Programme programmeFor(const ChannelProfile &p, qint64 day, int blockIndex, bool repeat) const;
    /// Whether block `blockIndex` of `day` on a channel airs its own programme (always, without repeatShare).
    bool airsOriginal(const ChannelProfile &p, qint64 day, int blockIndex) const;
    /// The programme of an airing that re-airs another's: an original airing drawn from every channel.
    Programme rerunFor(const ChannelProfile &p, qint64 day, int blockIndex) const;
    /// The local days whose blocks can start inside the window on a channel.
    std::pair<qint64, qint64> dayRange(const ChannelProfile &p) const;
};

GuideGenerator::GuideGenerator(GuideGeneratorOptions options) : d(std::make_unique<Private>())
{
    if (options.start == 0)
        options.start = DefaultStart;
    options.channels = qMax(0, options.channels);
    options.days = qMax(0, options.days);
    // Below 1, so that originals exist to draw repeats from.
    options.repeatShare = std::clamp(options.repeatShare, 0.0, 0.999);
    d->options = options;

    // Identity of every channel up front: names need a counter to stay unique.
    QHash<QString, int> nameUses;
    d->channels.reserve(options.channels);
    for (int i = 0; i < options.channels; ++i) {
        ChannelProfile p;
        p.index = i;
        p.key = mix(options.seed, 0xC4A77E1ull, quint64(i));
        Rng rng(p.key);
        p.kind = kindFor(rng);
        p.lang = langFor(rng);
        p.bilingual = p.lang != Lang::En && rng.chance(40);
        p.utcOffset = offsetFor(p.lang, rng);
        p.hd = rng.chance(45);
        p.videoElements = rng.chance(60);
        p.teletext = rng.chance(35);
        p.programmeIcons = rng.chance(40);
        p.sparse = p.lang == Lang::El ? rng.chance(50) : rng.chance(8);
        p.id = u"ch%1.demo"_qs.arg(i + 1, 3, 10, QLatin1Char('0'));
        QString name = channelBaseName(p.kind, lexicon(p.lang), rng);
        if (p.hd && rng.chance(50))
            name += u" HD"_qs;
        const int uses = nameUses.value(name);
        nameUses.insert(name, uses + 1);
        p.name = uses == 0 ? name : name + u' ' + QString::number(uses + 1);
        d->channels.append(p);
    }
}

GuideGenerator::~GuideGenerator() = default;

const GuideGeneratorOptions &GuideGenerator::options() const { return d->options; }
qint64 GuideGenerator::windowStart() const { return d->options.start; }
qint64 GuideGenerator::windowEnd() const { return d->options.start + qint64(d->options.days) * 86400; }
int GuideGenerator::channelCount() const { return int(d->channels.size()); }

QString GuideGenerator::generatorName()
{
    return u"iptv-guide generate"_qs;
}

Channel GuideGenerator::channel(int index) const
{
    const ChannelProfile &p = d->channels.at(index);
    Channel c;
    c.id = p.id;
    c.displayNames.append({lexicon(p.lang).code.toString(), p.name});
    if (p.bilingual)
        c.displayNames.append({u"en"_qs, p.name});
    c.icons.append({u"https://logos.iptv.example/%1.png"_qs.arg(p.id), 0, 0});
    return c;
}

ChannelProfile GuideGenerator::Private::profile(int index) const
{
    ChannelProfile p = channels.at(index);
    Rng rng(mix(p.key, 0x5A0E5ull));
    const std::array<int, GenreCount> genres = genreMix(p.kind);
    // A few shows per genre the channel airs, drawn from a per-language pool so that popular shows
    // turn up on several channels, as syndicated ones do.
    for (int g = 0; g < GenreCount; ++g) {
        if (genres[g] == 0)
            continue;
        const Genre genre = Genre(g);
        if (genre == Genre::Film || genre == Genre::Sport || genre == Genre::News || genre == Genre::Filler
            || genre == Genre::Shopping)
            continue;
        const int count = genre == Genre::Soap ? 2 : genre == Genre::Talk ? 2 : genre == Genre::Music ? 4
                        : qBound(3, genres[g] / 2, 20);
        for (int k = 0; k < count; ++k) {
            const quint64 poolIndex = quint64(rng.below(genre == Genre::Kids ? 300 : 800));
            const Show show = makeShow(genre, mix(options.seed, quint64(p.lang), quint64(g), poolIndex));
            p.showsByGenre[g].append(int(p.shows.size()));
            p.shows.append(show);
        }
    }
    buildWeek(p);
    return p;
}

void GuideGenerator::Private::buildWeek(ChannelProfile &p) const
{
    for (int w = 0; w < 7; ++w)
        buildDay(p, w);
    // Nights re-air the previous evening, so they are built once every evening exists; they refer to
    // blocks by index, which moves by the size of the previous night once nights are put in front.
    std::array<std::vector<Block>, 7> nights;
    for (int w = 0; w < 7; ++w)
        nights[size_t(w)] = buildNight(p, w);
    for (int w = 0; w < 7; ++w) {
        const int shift = int(nights[size_t((w + 6) % 7)].size());
        for (Block &b : nights[size_t(w)]) {
            if (b.repeatOf >= 0)
                b.repeatOf += shift;
        }
    }
    for (int w = 0; w < 7; ++w)
        p.week[size_t(w)].insert(p.week[size_t(w)].begin(), nights[size_t(w)].begin(), nights[size_t(w)].end());
    for (auto &day : p.week) {
        QHash<int, int> seen;
        for (Block &b : day) {
            if (b.show >= 0)
                b.occurrence = seen[b.show]++;
        }
    }
}

// The fixed news slots of a general channel: (minute, length).
static const std::pair<int, int> kWeekdayAnchors[] = {{420, 90}, {780, 30}, {1080, 60}, {1260, 30}};
static const std::pair<int, int> kWeekendAnchors[] = {{780, 15}, {1080, 30}};

void GuideGenerator::Private::buildDay(ChannelProfile &p, int weekday) const
{
    // Weekday daytime (06:00-20:00) comes from one random stream for Monday to Friday, so strips air
    // in the same slot every weekday; evenings and weekends have their own stream per day.
    Rng stripRng(mix(p.key, 0xDA7ull));
    Rng dayRng(mix(p.key, 0xD00ull, quint64(weekday)));
    const bool weekend = weekday >= 5;
    std::vector<Block> &blocks = p.week[size_t(weekday)];
    blocks.clear();
    const std::array<int, GenreCount> mixWeights = genreMix(p.kind);

    std::vector<std::pair<int, int>> anchors;
    if (p.kind == Kind::General) {
        if (weekend)
            anchors.assign(std::begin(kWeekendAnchors), std::end(kWeekendAnchors));
        else
            anchors.assign(std::begin(kWeekdayAnchors), std::end(kWeekdayAnchors));
    } else if (p.kind == Kind::News) {
        for (int m = Night; m < 1440; m += 120)
            anchors.emplace_back(m, 30);
    }

    int m = Night;
    while (m < 1440) {
        Rng &rng = (!weekend && m < 1200) ? stripRng : dayRng;
        int anchorIndex = -1;
        int limit = 1440;
        for (size_t i = 0; i < anchors.size(); ++i) {
            if (anchors[i].first == m)
                anchorIndex = int(i);
            if (anchors[i].first > m) {
                limit = anchors[i].first;
                break;
            }
        }
        if (anchorIndex >= 0) {
            Block b{m, qMin(anchors[size_t(anchorIndex)].second, 1440 - m), Genre::News};
            b.anchor = anchorIndex;
            blocks.push_back(b);
            m += b.length;
            continue;
        }
        const int room = limit - m;
        // After a film or a short show the schedule gets back onto the half hour: with another short
        // show when the channel has one that fits (cartoons), else with a filler.
        if (m % 30 != 0 || room < 25) {
            const int len = qMin(room, m % 30 != 0 ? 30 - m % 30 : room);
            std::vector<int> fitting;
            for (qsizetype s = 0; s < p.shows.size(); ++s) {
                if (p.shows.at(s).length <= len && p.shows.at(s).length >= 10
                    && daypartWeight(p.shows.at(s).genre, m) > 0)
                    fitting.push_back(int(s));
            }
            if (!fitting.empty() && rng.chance(80)) {
                const int s = fitting[size_t(rng.below(int(fitting.size())))];
                blocks.push_back(Block{m, p.shows.at(s).length, p.shows.at(s).genre, s});
                m += p.shows.at(s).length;
            } else {
                blocks.push_back(Block{m, len, Genre::Filler});
                m += len;
            }
            continue;
        }
        // Weighted genre choice for this time of day.
        std::array<int, GenreCount> w{};
        int total = 0;
        for (int g = 0; g < GenreCount; ++g) {
            w[size_t(g)] = mixWeights[size_t(g)] * daypartWeight(Genre(g), m);
            if (Genre(g) != Genre::Film && Genre(g) != Genre::Sport && Genre(g) != Genre::News
                && Genre(g) != Genre::Shopping && p.showsByGenre[size_t(g)].isEmpty())
                w[size_t(g)] = 0;
            total += w[size_t(g)];
        }
        Genre genre = Genre::Filler;
        if (total > 0) {
            int r = rng.below(total);
            for (int g = 0; g < GenreCount; ++g) {
                if (r < w[size_t(g)]) {
                    genre = Genre(g);
                    break;
                }
                r -= w[size_t(g)];
            }
        }
        Block b{m, 30, genre};
        switch (genre) {
        case Genre::Film: b.length = pickLength(rng, {90, 95, 100, 105, 110, 120, 125, 135, 150, 175}); break;
        case Genre::Sport: b.length = pickLength(rng, {90, 120, 120, 150, 180}); break;
        case Genre::News: b.length = pickLength(rng, {30, 30, 60, 15}); break;
        case Genre::Shopping: b.length = pickLength(rng, {30, 60, 120}); break;
        default: {
            const QList<int> &candidates = p.showsByGenre[size_t(genre)];
            b.show = candidates.at(rng.below(int(candidates.size())));
            b.length = p.shows.at(b.show).length;
            break;
        }
        }
        if (b.length > room) {
            // Does not fit before the next fixed slot: a shorter show of the channel or a filler.
            b = Block{m, room, Genre::Filler};
            for (int g = 0; g < GenreCount && room >= 25; ++g) {
                for (int s : p.showsByGenre[size_t(g)]) {
                    if (p.shows.at(s).length <= room && p.shows.at(s).length >= 25) {
                        b = Block{m, p.shows.at(s).length, Genre(g), s};
                        break;
                    }
                }
                if (b.show >= 0)
                    break;
            }
            if (b.show < 0 && room >= 30)
                b = Block{m, room >= 60 ? 60 : 30, Genre::News};
        }
        // Most listings round a programme up to its half-hour slot; some print the true running time
        // and a filler after it, and commercial channels trim an hour to 55 minutes.
        const int slot = qMin(room, (b.length + 29) / 30 * 30);
        if (b.length > 15 && slot != b.length && rng.chance(75))
            b.length = slot;
        else if (b.show >= 0 && b.length % 30 == 0 && rng.chance(6))
            b.length -= 5;
        blocks.push_back(b);
        m += b.length;
    }
}

std::vector<Block> GuideGenerator::Private::buildNight(const ChannelProfile &p, int weekday) const
{
    Rng rng(mix(p.key, 0x419Aull, quint64(weekday)));
    const std::vector<Block> &yesterday = p.week[size_t((weekday + 6) % 7)];
    std::vector<int> repeatable; // yesterday's evening blocks that can re-air overnight
    for (size_t i = 0; i < yesterday.size(); ++i) {
        const Block &b = yesterday[i];
        if (b.start >= 1140 && b.repeatOf < 0 && b.genre != Genre::Filler && b.genre != Genre::News
            && b.genre != Genre::Sport)
            repeatable.push_back(int(i));
    }
    std::vector<Block> blocks;
    int m = 0;
    while (m < Night) {
        const int room = Night - m;
        if (m % 30 != 0 || room < 25) {
            const int len = qMin(room, m % 30 != 0 ? 30 - m % 30 : room);
            blocks.push_back(Block{m, len, Genre::Filler});
            m += len;
            continue;
        }
        Block b{m, 30, Genre::Shopping};
        const int r = rng.below(100);
        if (p.kind == Kind::News) {
            b.genre = Genre::News;
            b.length = 30;
        } else if (r < 55 && !repeatable.empty()) {
            const int i = repeatable[size_t(rng.below(int(repeatable.size())))];
            if (yesterday[size_t(i)].length <= room) {
                b = yesterday[size_t(i)];
                b.start = m;
                b.repeatOf = i;
                b.anchor = -1;
            }
        } else if (r < 75 && !p.showsByGenre[size_t(Genre::Music)].isEmpty()) {
            b.genre = Genre::Music;
            b.show = p.showsByGenre[size_t(Genre::Music)].first();
            b.length = qMin(room, p.shows.at(b.show).length);
        } else if (r < 85 && p.kind != Kind::Kids) {
            b.genre = Genre::Film;
            b.length = pickLength(rng, {90, 100, 105, 120});
        } else {
            b.length = pickLength(rng, {30, 60, 120});
        }
        b.length = qMin(b.length, room);
        if (b.repeatOf < 0 && b.length > 15)
            b.length = qMin(room, (b.length + 29) / 30 * 30);
        blocks.push_back(b);
        m += b.length;
    }
    return blocks;
}

namespace {

struct TextBuilder
{
    const Lexicon &lex;
    Rng &rng;

    QStringView word(Words w) { return w[size_t(rng.below(int(w.size())))]; }
    // Every pick is its own statement: the order of evaluation of function arguments is unspecified,
    // and the output must not depend on the compiler.
    QString name()
    {
        const QStringView first = word(lex.firstNames);
        const QStringView last = word(lex.lastNames);
        // Japanese puts the family name first, without a space.
        if (!lex.spaces)
            return last + first;
        return first + u' ' + last;
    }
    QString title()
    {
        const QStringView pattern = word(lex.titlePatterns);
        const QStringView adjective = word(lex.titleAdjectives);
        const QStringView noun = word(lex.titleNouns);
        const QStringView noun2 = word(lex.titleNouns);
        return fill(pattern, {adjective, noun, noun2});
    }
    QString sentence(QStringView pattern = {})
    {
        const QString who = name();
        const QStringView verb = word(lex.verbs);
        const QStringView object = word(lex.objects);
        const QStringView place = word(lex.places);
        if (!pattern.isEmpty()) {
            const QStringView profession = word(lex.professions);
            return fill(pattern, {who, verb, object, place, profession});
        }
        return fill(lex.sentence, {who, verb, object, place});
    }
    /// "w1 w2" from two lists, in order.
    QString pair(Words a, Words b)
    {
        const QStringView first = word(a);
        const QStringView second = word(b);
        return first + u' ' + second;
    }
    void append(QString &text, const QString &more)
    {
        if (!text.isEmpty() && lex.spaces)
            text += u' ';
        text += more;
    }
    /// Sentences until the text is about `target` characters long.
    QString paragraph(int target, bool withConnectors)
    {
        QString text = sentence();
        while (text.size() < target) {
            QString s = sentence();
            if (withConnectors && rng.chance(40) && !lex.connectors.empty())
                s = word(lex.connectors) + (lex.spaces ? u" "_qs : QString()) + s;
            append(text, s);
        }
        return text;
    }
};

/// Description lengths modelled on the sample feeds: many short ones (20-60 characters, the US and
/// Greek files), a body around 100-180 (Irish, Australian), a tail of long film synopses.
int descTarget(Rng &rng, Genre genre)
{
    const int r = rng.below(100);
    switch (genre) {
    case Genre::Kids: return r < 70 ? 20 : 80;
    case Genre::Film: return r < 20 ? 120 : r < 70 ? 250 : 500;
    case Genre::Documentary: return r < 50 ? 120 : 280;
    default: return r < 25 ? 60 : r < 80 ? 150 : 300;
    }
}

QString episodeCode(int season, int episode, int episodes)
{
    return u"%1.%2/%3."_qs.arg(season - 1).arg(episode - 1).arg(episodes);
}

} // namespace

Programme GuideGenerator::Private::programmeFor(const ChannelProfile &p, qint64 day, int blockIndex, bool repeat) const
{
    const int weekday = int(((day % 7) + 7 + 3) % 7); // 1970-01-01 was a Thursday; Monday = 0
    const Block &b = p.week[size_t(weekday)][size_t(blockIndex)];
    if (b.repeatOf >= 0) {
        Programme prog = programmeFor(p, day - 1, b.repeatOf, true);
        prog.start = day * 86400 + qint64(b.start) * 60 - p.utcOffset;
        prog.stop = prog.start + qint64(b.length) * 60;
        return prog;
    }

    const Lexicon &lex = lexicon(p.lang);
    const Lexicon &english = lexicon(Lang::En);
    const QString lang = lex.code.toString();
    Programme prog;
    prog.channelId = p.id;
    prog.startUtcOffset = p.utcOffset;
    prog.start = day * 86400 + qint64(b.start) * 60 - p.utcOffset;
    prog.stop = prog.start + qint64(b.length) * 60;

    // What the airing is decides the metadata seed; when it airs decides only the flags.
    quint64 what = 0;
    int season = 0, episode = 0, episodes = 0;
    const Show *show = b.show >= 0 ? &p.shows.at(b.show) : nullptr;
    const bool strip = weekday < 5 && b.start >= Night && b.start < 1200;
    if (show) {
        const qint64 ordinal = (strip ? day : day / 7) * 3 + b.occurrence + show->offset;
        const int total = show->seasons * show->episodes;
        const int idx = int(ordinal % total);
        season = idx / show->episodes + 1;
        episode = idx % show->episodes + 1;
        episodes = show->episodes;
        what = mix(show->key, quint64(season), quint64(episode));
    } else if (b.genre == Genre::Film) {
        // Films come from a channel pool small enough that each re-airs two or three times a fortnight.
        const int pool = p.kind == Kind::Movies ? 50 : 14;
        const quint64 slot = mix(p.key, quint64(day), quint64(blockIndex)) % quint64(pool);
        what = mix(options.seed, quint64(p.lang), 0xF11Eull, mix(p.key, slot) % 4000, quint64(b.length));
    } else if (b.genre == Genre::Sport) {
        what = mix(p.key, 0x5B0ull, quint64(day), quint64(blockIndex)); // live: unique
    } else if (b.genre == Genre::News) {
        what = mix(p.key, 0x1E55ull, quint64(b.anchor), quint64(b.start / 60), quint64(day % 3));
    } else {
        what = mix(p.key, quint64(b.genre), quint64(b.start / 30) % 4);
    }
    Rng rng(what);
    TextBuilder text{lex, rng};
    TextBuilder enText{english, rng};

    QString title, subTitle, desc, enTitle, enDesc;
    QStringList categories;
    bool credits = false, rated = false;
    switch (b.genre) {
    case Genre::News: {
        if (p.kind == Kind::News) {
            title = (p.lang == Lang::En ? enText.word(en::newsChannelTitles) : text.word(lex.newsTitles)).toString();
        } else {
            const int slot = b.anchor >= 0 ? qMin(b.anchor * 2 + int(rng.below(2)), int(lex.newsTitles.size()) - 1)
                                           : rng.below(int(lex.newsTitles.size()));
            title = lex.newsTitles[size_t(slot)].toString();
        }
        desc = text.word(lex.newsDescs).toString();
        categories = {u"News"_qs};
        break;
    }
    case Genre::Sport: {
        const int comp = rng.below(int(std::size(en::competitions)));
        const Lexicon &cityLex = p.lang == Lang::El ? lex : english;
        auto team = [&] {
            QString t = text.word(cityLex.cities).toString();
            if (p.lang != Lang::El)
                t += u' ' + text.word(en::teamSuffixes);
            return t;
        };
        const QString a = team();
        const QString bTeam = team();
        const QStringView round = text.word(en::rounds);
        const QStringView venue = text.word(english.cities);
        const QString commentator = text.name();
        title = u"Live: "_qs + en::competitions[size_t(comp)];
        subTitle = a + u" v "_qs + bTeam;
        desc = fill(u"Live coverage of the %1 %2 between %3 and %4, from %5. Commentary from %6.",
                    {en::competitions[size_t(comp)], round, a, bTeam, venue, commentator});
        categories = {u"Sports"_qs, en::sportKinds[size_t(comp)].toString()};
        break;
    }
    case Genre::Film: {
        title = text.title();
        const int target = descTarget(rng, Genre::Film);
        desc = text.sentence(lex.filmSentence);
        while (desc.size() < target)
            text.append(desc, text.sentence());
        if (p.bilingual) {
            enTitle = enText.title();
            enDesc = enText.paragraph(target, true);
        }
        categories = {u"Movie"_qs, enText.word(en::filmGenres).toString()};
        credits = rated = true;
        break;
    }
    case Genre::Kids: {
        Rng showRng(show->key);
        TextBuilder showText{english, showRng};
        const QStringView pattern = showText.word(en::kidsPatterns);
        const QStringView character = showText.word(en::kidsCharacters);
        const QStringView noun = showText.word(en::kidsNouns);
        title = fill(pattern, {character, noun});
        subTitle = enText.pair(en::kidsCharacters, en::kidsActions);
        desc = subTitle + u'.';
        if (descTarget(rng, Genre::Kids) > 40)
            desc += u' ' + enText.pair(en::kidsCharacters, en::kidsActions) + u'.';
        categories = {u"Children"_qs, show->length <= 15 ? u"Animation"_qs : u"Series"_qs};
        rated = true;
        break;
    }
    case Genre::Documentary: {
        Rng showRng(show->key);
        TextBuilder showText{lex, showRng};
        title = showText.word(lex.docTopics).toString();
        title[0] = title[0].toUpper();
        subTitle = text.word(lex.docTopics).toString();
        desc = text.pair(lex.docSubjects, lex.docVerbs) + u' ' + subTitle + u'.';
        if (descTarget(rng, Genre::Documentary) > 150)
            desc += u' ' + enText.word(en::docExtras);
        if (rng.chance(50))
            desc += u' ' + enText.word(en::docExtras);
        subTitle[0] = subTitle[0].toUpper();
        categories = {u"Documentary"_qs, rng.chance(50) ? u"Nature"_qs : u"History"_qs};
        credits = true;
        break;
    }
    case Genre::Lifestyle: {
        Rng showRng(show->key);
        TextBuilder showText{english, showRng};
        const QString host = showText.name().section(u' ', 0, 0);
        const QStringView pattern = showText.word(en::lifestylePatterns);
        const QStringView noun = showText.word(en::titleNouns);
        title = fill(pattern, {host, noun});
        desc = host + u' ' + enText.pair(en::lifestyleVerbs, en::lifestyleObjects) + u'.';
        categories = {u"Lifestyle"_qs};
        break;
    }
    case Genre::Talk: {
        Rng showRng(show->key);
        TextBuilder showText{english, showRng};
        const QString host = showText.name();
        title = fill(showText.word(en::talkPatterns), {host});
        Rng dayRng(mix(what, quint64(day)));
        TextBuilder guests{english, dayRng};
        const QString guest1 = guests.name();
        const QString guest2 = guests.name();
        desc = host + u" is joined by "_qs + guest1 + u" and "_qs + guest2 + u'.';
        categories = {u"Talk"_qs, u"Entertainment"_qs};
        break;
    }
    case Genre::SportMagazine: {
        Rng showRng(show->key);
        TextBuilder showText{english, showRng};
        title = showText.word(en::sportMagazines).toString();
        const QStringView competition = enText.word(en::competitions);
        const QString pundit = enText.name();
        desc = fill(u"Highlights and analysis from the weekend's %1, with %2.", {competition, pundit});
        categories = {u"Sports"_qs, u"Magazine"_qs};
        break;
    }
    case Genre::Music: {
        Rng showRng(show->key);
        TextBuilder showText{english, showRng};
        title = showText.word(en::musicTitles).toString();
        desc = showText.word(en::musicDescs).toString();
        categories = {u"Music"_qs};
        break;
    }
    case Genre::Filler: {
        static_assert(std::size(en::fillerTitles) == std::size(en::fillerDescs));
        const size_t i = size_t(rng.below(int(std::size(en::fillerTitles))));
        title = en::fillerTitles[i].toString();
        desc = p.lang == Lang::En ? en::fillerDescs[i].toString() : lex.noInfo.toString();
        break;
    }
    case Genre::Shopping:
        title = text.word(en::shoppingTitles).toString();
        desc = text.word(en::shoppingDescs).toString();
        categories = {u"Shopping"_qs};
        break;
    case Genre::Drama:
    case Genre::Comedy:
    case Genre::Soap:
    default: {
        Rng showRng(show->key);
        TextBuilder showText{lex, showRng};
        title = showText.title();
        subTitle = rng.chance(70) ? text.title() : QString();
        desc = text.paragraph(descTarget(rng, b.genre), true);
        if (rng.chance(15))
            text.append(desc, text.word(lex.closings).toString());
        if (p.bilingual) {
            TextBuilder enShow{english, showRng};
            enTitle = enShow.title();
            enDesc = enText.paragraph(desc.size(), true);
        }
        categories = {b.genre == Genre::Comedy ? u"Comedy"_qs : b.genre == Genre::Soap ? u"Soap"_qs : u"Drama"_qs,
                      u"Series"_qs};
        credits = rated = true;
        break;
    }
    }

    if (p.sparse && b.genre != Genre::Film && rng.chance(60)) {
        // Feeds like the Greek ones often have nothing but a placeholder.
        desc = lex.noInfo.toString();
        subTitle.clear();
        enDesc.clear();
    }

    prog.titles.append({lang, title});
    if (!enTitle.isEmpty())
        prog.titles.append({u"en"_qs, enTitle});
    if (!subTitle.isEmpty())
        prog.subTitles.append({lang, subTitle});
    if (!desc.isEmpty())
        prog.descs.append({lang, desc});
    if (!enDesc.isEmpty())
        prog.descs.append({u"en"_qs, enDesc});
    if (!p.sparse) {
        for (const QString &c : std::as_const(categories))
            prog.categories.append({u"en"_qs, c});
    }

    if (credits && !p.sparse) {
        // Cast belongs to the show (or the film); a guest star to the episode.
        Rng castRng(show ? show->key : what);
        TextBuilder cast{lex, castRng};
        if (b.genre == Genre::Documentary) {
            prog.credits.append({Credit::Role::Presenter, cast.name()});
        } else {
            if (b.genre == Genre::Film || castRng.chance(40))
                prog.credits.append({Credit::Role::Director, cast.name()});
            const int actors = b.genre == Genre::Film ? castRng.range(3, 7) : castRng.range(2, 5);
            for (int i = 0; i < actors; ++i) {
                Credit c{Credit::Role::Actor, cast.name(), {}, false};
                if (castRng.chance(30))
                    c.character = cast.word(lex.firstNames).toString();
                prog.credits.append(c);
            }
            if (b.genre != Genre::Film && rng.chance(25)) {
                Credit guest{Credit::Role::Actor, text.name()};
                guest.guest = true;
                prog.credits.append(guest);
            }
            if (castRng.chance(30))
                prog.credits.append({Credit::Role::Writer, cast.name()});
        }
    }
    if (b.genre == Genre::Film) {
        // Skewed towards recent years, as schedules are.
        const int a = rng.below(76);
        const int c = rng.below(76);
        prog.date = QString::number(2025 - a * c / 75);
    }
    if (show && episodes > 1 && b.genre != Genre::Music && b.genre != Genre::Talk) {
        prog.episodeNums.append({u"xmltv_ns"_qs, episodeCode(season, episode, episodes)});
        const QString onscreen = p.lang == Lang::En ? u"S%1 E%2"_qs.arg(season).arg(episode)
            : p.lang == Lang::Ja ? lex.episodeWord.toString().arg(episode)
                                 : lex.episodeWord + u' ' + QString::number(episode);
        prog.episodeNums.append({u"onscreen"_qs, onscreen});
    }
    if (rated) {
        Rng ratingRng(what);
        // Ratings lists run from mild to strict; children's programmes get the mildest.
        const int level = b.genre == Genre::Kids ? 0 : ratingRng.below(int(lex.ratings.size()));
        prog.ratings.append({lex.ratingSystem.toString(), lex.ratings[size_t(level)].toString(), {}});
        if (b.genre == Genre::Film)
            prog.starRatings.append({QString(), u"%1/5"_qs.arg(1 + ratingRng.below(5)), {}});
    }
    if (p.programmeIcons && (show || b.genre == Genre::Film))
        prog.icons.append({u"https://img.iptv.example/p/%1.jpg"_qs.arg(show ? show->key : what, 16, 16, QLatin1Char('0')), 0, 0});
    if (p.videoElements) {
        prog.video.hasPresent = true;
        prog.video.hasColour = true;
        prog.video.aspect = u"16:9"_qs;
        prog.video.quality = p.hd ? u"HDTV"_qs : u"SDTV"_qs;
        prog.audio.hasPresent = true;
        prog.audio.stereo = p.hd && b.genre == Genre::Film ? u"dolby digital"_qs : u"stereo"_qs;
    }
    if (p.teletext && (show || b.genre == Genre::Film))
        prog.subtitles.append({u"teletext"_qs, p.lang == Lang::En ? QString() : lang});

    // Airing flags: prime-time episodes of a current show's last season are new, other series
    // airings are repeats; some films premiere, the odd one has its last chance.
    const bool prime = b.start >= 1140;
    if (repeat) {
        prog.airing.previouslyShown = true;
    } else if (show && b.genre != Genre::Music && b.genre != Genre::Talk) {
        if (show->current && season == show->seasons && prime) {
            prog.airing.isNew = true;
            if (episode == 1)
                prog.airing.premiere = true;
        } else {
            prog.airing.previouslyShown = true;
        }
    } else if (b.genre == Genre::Film) {
        Rng filmRng(what);
        if (filmRng.chance(6) && prime)
            prog.airing.premiere = true;
        else if (filmRng.chance(5) && weekday == 6)
            prog.airing.lastChance = true;
    } else if (b.genre == Genre::Sport || b.genre == Genre::Talk) {
        prog.airing.isNew = true;
    }
    return prog;
}

std::pair<qint64, qint64> GuideGenerator::Private::dayRange(const ChannelProfile &p) const
{
    const qint64 from = options.start;
    const qint64 to = options.start + qint64(options.days) * 86400;
    auto dayOf = [](qint64 t) { return t >= 0 ? t / 86400 : -((-t + 86399) / 86400); };
    return {dayOf(from + p.utcOffset) - 1, dayOf(to + p.utcOffset)};
}

const ChannelProfile &GuideGenerator::Private::cachedProfile(int index) const
{
    QMutexLocker lock(&profileMutex);
    if (profiles.empty())
        profiles.resize(size_t(channels.size()));
    auto &slot = profiles[size_t(index)];
    if (!slot)
        slot = std::make_unique<const ChannelProfile>(profile(index));
    return *slot;
}

bool GuideGenerator::Private::airsOriginal(const ChannelProfile &p, qint64 day, int blockIndex) const
{
    if (options.repeatShare <= 0)
        return true;
    const quint64 h = mix(options.seed, 0x0419ull, quint64(p.index), quint64(day), quint64(blockIndex));
    return double(h >> 11) * 0x1.0p-53 >= options.repeatShare;
}

Programme GuideGenerator::Private::rerunFor(const ChannelProfile &p, qint64 day, int blockIndex) const
{
    const int weekday = int(((day % 7) + 7 + 3) % 7);
    const Block &b = p.week[size_t(weekday)][size_t(blockIndex)];
    const qint64 from = options.start;
    const qint64 to = options.start + qint64(options.days) * 86400;
    // Draw airings of the whole guide until one airs its own programme: about 1 / (1 - repeatShare)
    // draws. The bound only matters for a tiny guide with no original at all.
    for (quint64 draw = 0; draw < 100000; ++draw) {
        const quint64 h = mix(options.seed, 0x5E7Aull, quint64(p.index), quint64(day), quint64(blockIndex), draw);
        const ChannelProfile &source = cachedProfile(int(h % quint64(channels.size())));
        const auto [firstDay, lastDay] = dayRange(source);
        const qint64 sourceDay = firstDay + qint64((h >> 16) % quint64(lastDay - firstDay + 1));
        const std::vector<Block> &blocks = source.week[size_t(((sourceDay % 7) + 7 + 3) % 7)];
        if (blocks.empty())
            continue;
        const int sourceBlock = int((h >> 40) % blocks.size());
        const qint64 start = sourceDay * 86400 + qint64(blocks[size_t(sourceBlock)].start) * 60 - source.utcOffset;
        if (start < from || start >= to || !airsOriginal(source, sourceDay, sourceBlock))
            continue;
        Programme prog = programmeFor(source, sourceDay, sourceBlock, false);
        // Everything the programme is stays the source's (so the guide keeps one record for both);
        // where and when, and that it is a repeat, are this airing's.
        prog.channelId = p.id;
        prog.startUtcOffset = p.utcOffset;
        prog.start = day * 86400 + qint64(b.start) * 60 - p.utcOffset;
        prog.stop = prog.start + qint64(b.length) * 60;
        prog.airing = {};
        prog.airing.previouslyShown = true;
        return prog;
    }
    return programmeFor(p, day, blockIndex, false);
}

void GuideGenerator::generateChannel(int index, const ProgrammeSink &sink) const
{
    const ChannelProfile p = d->profile(index);
    const qint64 from = windowStart();
    const qint64 to = windowEnd();
    const auto [firstDay, lastDay] = d->dayRange(p);
    for (qint64 day = firstDay; day <= lastDay; ++day) {
        const int weekday = int(((day % 7) + 7 + 3) % 7);
        const std::vector<Block> &blocks = p.week[size_t(weekday)];
        for (size_t i = 0; i < blocks.size(); ++i) {
            const qint64 start = day * 86400 + qint64(blocks[i].start) * 60 - p.utcOffset;
            if (start < from || start >= to)
                continue;
            sink(d->airsOriginal(p, day, int(i)) ? d->programmeFor(p, day, int(i), false)
                                                 : d->rerunFor(p, day, int(i)));
        }
    }
}

void GuideGenerator::generate(const ChannelSink &channelSink, const ProgrammeSink &programmeSink,
                              const Progress &progress) const
{
    const int n = channelCount();
    if (channelSink) {
        for (int i = 0; i < n; ++i)
            channelSink(channel(i));
    }
    for (int i = 0; i < n; ++i) {
        if (programmeSink)
            generateChannel(i, programmeSink);
        if (progress)
            progress(i + 1, n);
    }
}

GuideData GuideGenerator::generateAll() const
{
    GuideData data;
    data.generatorName = generatorName();
    generate([&data](const Channel &c) { data.channels.append(c); },
             [&data](Programme &&p) { data.programmes.append(std::move(p)); });
    return data;
}

bool GuideGenerator::writeXmltv(QIODevice *out, QString *error, const Progress &progress) const
{
    XmltvWriter writer(out);
    writer.writeStart(generatorName(), u"iptv-guide demo generator (seed %1)"_qs.arg(d->options.seed));
    const int n = channelCount();
    for (int i = 0; i < n; ++i)
        writer.writeChannel(channel(i));
    for (int i = 0; i < n && !writer.hasError(); ++i) {
        generateChannel(i, [&writer](Programme &&p) { writer.writeProgramme(p); });
        iptv::drainPipe(out); // a pipe to a compressor buffers whatever we write
        if (progress)
            progress(i + 1, n);
    }
    writer.writeEnd();
    if (writer.hasError()) {
        if (error)
            *error = u"writing the XMLTV failed: %1"_qs.arg(out->errorString());
        return false;
    }
    return true;
}

bool GuideGenerator::writeFile(const QString &path, QString *error, const Progress &progress) const
{
    QString message;
    const bool ok = iptv::writeStreamedFile(path, [&](QIODevice *out) { return writeXmltv(out, &message, progress); }, &message);
    if (!ok && error)
        *error = message;
    if (ok)
        qCDebug(lcGuideGenerator) << "wrote" << path << QFileInfo(path).size() << "bytes";
    return ok;
}

} // namespace iptv::epg
