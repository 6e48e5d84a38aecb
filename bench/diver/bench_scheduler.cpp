// DVR scheduler benchmark (issue 14; targets, not timed tests):
//   - full evaluation: 10,000 series rules over a 1,000 channels x 14 days generated guide
//     (index the guide, match every rule, plan with duplicates, keep-N and capacity), target <= 1 s;
//   - re-evaluation after a guide delta (a schedule change on a few channels, applied as a zstd
//     delta with epg::GuideDelta like a box or server gets it), target <= 50 ms: a repair of the
//     last plan (docs/dvr-scheduler.md, "Guide changes"), checked with dvr::PlanCheck (capacity,
//     one true outcome for every airing a full evaluation of the changed guide has one for); the
//     recordings it changed (its ripple) are printed next to what a full evaluation changes.
// Medians of --runs runs, wall clock and process CPU time (all threads: rules are matched on
// --threads threads, 0 = one per core; --threads 1 gives the single-thread figures).
//
// usage: bench_scheduler [--channels N] [--days D] [--rules N] [--runs N] [--threads N] [--work DIR] [--seed S]
//                        [--update-only]
// --update-only: only the evaluation the update starts from and the update (no timing of a full
// evaluation, no checks), for callgrind: under valgrind the update alone is instrumented
// (`valgrind --tool=callgrind --instr-atstart=no --toggle-collect='*Scheduler::update*'
//  bench_scheduler --update-only --runs 1 --threads 1`), the rest runs uninstrumented (faster).
// The two guides are compiled once into --work (a 1000 x 14 compile takes a while) and reused.

#include <dvr/plancheck.h>
#include <dvr/scheduler.h>
#include <epg/guide.h>
#include <epg/guidedelta.h>
#include <epg/guidegenerator.h>
#include <epg/guidewriter.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QHash>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>

#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

using namespace iptv;

namespace {

qint64 clockNs(clockid_t clock)
{
    timespec ts{};
    clock_gettime(clock, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Times
{
    std::vector<double> wall, cpu;
    void add(qint64 wallNs, qint64 cpuNs)
    {
        wall.push_back(wallNs / 1e6);
        cpu.push_back(cpuNs / 1e6);
    }
    static double median(std::vector<double> v)
    {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    }
    QString text() const
    {
        QStringList runs;
        for (double w : wall)
            runs << QString::number(w, 'f', 1);
        return QStringLiteral("median %1 ms wall, %2 ms CPU (runs: %3)")
            .arg(median(wall), 0, 'f', 1)
            .arg(median(cpu), 0, 'f', 1)
            .arg(runs.join(u", "));
    }
};

/// A programme id like the scheduler tests add (tests/dvr/schedulerfixture.h): the generator has
/// none, and series-id rules need them.
void addProgrammeId(epg::Programme &p)
{
    QString ns;
    for (const epg::EpisodeNum &e : std::as_const(p.episodeNums))
        if (e.system == u"xmltv_ns")
            ns = e.value;
    if (ns.isEmpty())
        return;
    const QByteArray h = QCryptographicHash::hash(p.title().toUtf8(), QCryptographicHash::Md5);
    const quint32 series = (quint32(quint8(h[0])) << 16 | quint32(quint8(h[1])) << 8 | quint8(h[2])) % 100000000;
    const QStringList parts = ns.split(u'.');
    const int season = parts.value(0).section(u'/', 0, 0).toInt(), episode = parts.value(1).section(u'/', 0, 0).toInt();
    const int number = (season * 500 + episode) % 9999 + 1;
    p.episodeNums.append({QStringLiteral("dd_progid"),
                          QStringLiteral("EP%1.%2").arg(series, 8, 10, QLatin1Char('0')).arg(number, 4, 10, QLatin1Char('0'))});
}

/// The base guide, or (changed) the same with a schedule change on every 50th channel: ten
/// programmes of its second day retitled, moved 5 minutes later, or removed (in turn).
QByteArray compileGuide(int channels, int days, quint64 seed, bool changed)
{
    epg::GuideGenerator generator({.channels = channels, .days = days, .start = 0, .seed = seed});
    epg::GuideBuilder builder({.from = generator.windowStart(), .days = days, .compressionLevel = 3,
                               .createdAt = generator.windowStart()});
    QString channelId;
    int channel = -1, changedHere = 0, changes = 0;
    generator.generate([&](const epg::Channel &c) { builder.addChannel(c); },
                       [&](epg::Programme &&p) {
                           if (p.channelId != channelId) {
                               channelId = p.channelId;
                               ++channel;
                               changedHere = 0;
                           }
                           addProgrammeId(p);
                           if (changed && channel % 50 == 7 && changedHere < 10
                               && p.start >= generator.windowStart() + 86400) {
                               ++changedHere;
                               switch (changes++ % 3) {
                               case 0: p.titles = {{QString(), p.title() + u" (changed)"}}; break;
                               case 1: p.start += 300; break;
                               case 2: return; // removed
                               }
                           }
                           builder.addProgramme(p);
                       });
    return builder.finish();
}

QByteArray cachedGuide(const QString &dir, int channels, int days, quint64 seed, bool changed)
{
    const QString path = QStringLiteral("%1/scheduler-%2x%3-s%4-%5.guide")
                             .arg(dir)
                             .arg(channels)
                             .arg(days)
                             .arg(seed)
                             .arg(changed ? u"changed"_qs : u"base"_qs);
    QFile f(path);
    if (f.open(QIODevice::ReadOnly))
        return f.readAll();
    std::fprintf(stderr, "compiling %s ...\n", qPrintable(path));
    const QByteArray bytes = compileGuide(channels, days, seed, changed);
    QDir().mkpath(dir);
    if (f.open(QIODevice::WriteOnly))
        f.write(bytes);
    return bytes;
}

/// `count` series rules, each for a series drawn uniformly from the guide's episodic titles (a
/// viewer records a show, not an airing: drawing airings would favour the news and the daily
/// strips that air hundreds of times): half by series id, the rest by title but 1% by regex; a
/// quarter limited to one channel, a fifth to a time window, a fifth new-only; random priority,
/// padding, keep and duplicate scope. Deterministic for a seed.
QList<dvr::RecordingRule> makeRules(const epg::Guide &g, int count, quint64 seed, int *series)
{
    QRandomGenerator rng(quint32(seed * 7919));
    // One airing per distinct episodic title, in guide order.
    QHash<QString, quint32> seen;
    std::vector<quint32> shows;
    for (quint32 i = 0; i < g.airingCount(); ++i) {
        const epg::Airing a = g.airing(i);
        if (g.episode(a.programme).isEmpty())
            continue;
        const QString title = g.title(a.programme);
        if (!seen.contains(title)) {
            seen.insert(title, i);
            shows.push_back(i);
        }
    }
    *series = int(shows.size());
    QList<dvr::RecordingRule> rules;
    const qint64 day0 = g.info().validFrom;
    for (int i = 0; i < count; ++i) {
        const epg::Airing a = g.airing(shows[rng.bounded(quint32(shows.size()))]);
        const epg::Programme p = g.programmeRecord(a);
        dvr::RecordingRule r;
        r.id = i + 1;
        r.created = day0 - 100000 + rng.bounded(100000);
        QString progid;
        for (const epg::EpisodeNum &e : p.episodeNums)
            if (e.system == u"dd_progid")
                progid = e.value;
        const int kind = rng.bounded(100);
        if (kind < 50 && !progid.isEmpty()) {
            r.kind = dvr::RuleKind::SeriesId;
            r.seriesId = progid;
        } else if (kind == 99) {
            r.kind = dvr::RuleKind::Regex;
            r.pattern = u'^' + QRegularExpression::escape(p.title()) + u"\\b";
        } else {
            r.kind = dvr::RuleKind::Title;
            r.title = p.title();
        }
        if (rng.bounded(4) == 0)
            r.channelId = g.channelId(int(a.channel));
        if (rng.bounded(5) == 0)
            r.window = {quint8(rng.bounded(1, 128)), rng.bounded(24) * 60, rng.bounded(24) * 60, {}};
        r.newOnly = rng.bounded(5) == 0;
        r.keep = rng.bounded(4) == 0 ? rng.bounded(1, 10) : 0;
        r.duplicateScope = rng.bounded(10) == 0 ? dvr::DuplicateScope::AllRules : dvr::DuplicateScope::Rule;
        r.priority = rng.bounded(4);
        r.prePadding = rng.bounded(3) * 60;
        r.postPadding = rng.bounded(4) * 120;
        rules.append(r);
    }
    return rules;
}

/// Recordings in one plan and not in the other (by rule, channel, start and node).
int difference(const dvr::SchedulePlan &a, const dvr::SchedulePlan &b)
{
    auto keys = [](const dvr::SchedulePlan &p) {
        QSet<QString> out;
        for (const dvr::PlannedRecording &r : p.recordings)
            out.insert(dvr::PlanCheck::outcomeKey(r.ruleId, r.channelId, r.start) + u'@' + r.nodeId);
        return out;
    };
    const QSet<QString> x = keys(a), y = keys(b);
    return int((x - y).size() + (y - x).size());
}

/// A digest of everything a plan says (recordings with their nodes and padding, every skip with its
/// reason, what it names and its note, the rule reports): two plans with the same digest are the
/// same. Then the digests of the recordings and of the skips alone, to tell where two plans differ.
QByteArray planDigest(const dvr::SchedulePlan &p)
{
    QCryptographicHash all(QCryptographicHash::Sha1), recordings(QCryptographicHash::Sha1),
        skips(QCryptographicHash::Sha1);
    QCryptographicHash *h = &recordings;
    auto add = [&](const QString &s) {
        const QByteArray bytes = s.toUtf8() + "\x1f";
        h->addData(bytes);
        all.addData(bytes);
    };
    auto addRef = [&](const dvr::AiringRef &r) {
        add(QStringLiteral("%1 %2 %3 %4 %5").arg(r.ruleId).arg(r.channelId).arg(r.start).arg(r.stop).arg(r.title));
    };
    for (const dvr::PlannedRecording &r : p.recordings) {
        addRef(r.ref());
        // Not the identity: its keys are Qt's qHash of the texts, which differs from process to process.
        add(QStringLiteral("%1 %2 %3").arg(r.recordStart).arg(r.recordStop).arg(r.nodeId));
    }
    h = &skips;
    for (const dvr::SkippedAiring &sk : p.skipped) {
        addRef(sk.airing);
        add(QStringLiteral("%1 %2 %3 %4 %5 %6").arg(int(sk.reason)).arg(int(sk.layer)).arg(sk.note).arg(sk.keep)
                .arg(sk.kept).arg(sk.planned));
        for (const dvr::AiringRef &r : sk.relatedTo)
            addRef(r);
        add(QStringLiteral("|"));
        for (const dvr::AiringRef &r : sk.alternatives)
            addRef(r);
    }
    for (const dvr::RuleReport &r : p.ruleReports)
        add(QStringLiteral("%1 %2").arg(r.ruleId).arg(r.message));
    return all.result().toHex().left(16) + " (recordings " + recordings.result().toHex().left(8) + ", skips "
        + skips.result().toHex().left(8) + ")";
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"DVR scheduler benchmark: full evaluation and re-evaluation after a guide delta"_qs);
    parser.addHelpOption();
    parser.addOption({u"channels"_qs, u"guide channels"_qs, u"n"_qs, u"1000"_qs});
    parser.addOption({u"days"_qs, u"guide days"_qs, u"n"_qs, u"14"_qs});
    parser.addOption({u"rules"_qs, u"series rules"_qs, u"n"_qs, u"10000"_qs});
    parser.addOption({u"runs"_qs, u"runs per figure"_qs, u"n"_qs, u"5"_qs});
    parser.addOption({u"nodes"_qs, u"recorder nodes"_qs, u"n"_qs, u"4"_qs});
    parser.addOption({u"streams"_qs, u"concurrent channel streams per node"_qs, u"n"_qs, u"40"_qs});
    parser.addOption({u"threads"_qs, u"threads matching rules (0: one per core)"_qs, u"n"_qs, u"0"_qs});
    parser.addOption({u"seed"_qs, u"generator and rule seed"_qs, u"n"_qs, u"1"_qs});
    parser.addOption({u"work"_qs, u"where the compiled guides are kept"_qs, u"dir"_qs, u"/tmp/bench-scheduler"_qs});
    parser.addOption({u"update-only"_qs, u"only the update after the delta (for callgrind): no full-evaluation figures, no checks"_qs});
    parser.process(app);
    const int channels = parser.value(u"channels"_qs).toInt(), days = parser.value(u"days"_qs).toInt();
    const int ruleCount = parser.value(u"rules"_qs).toInt(), runs = std::max(1, parser.value(u"runs"_qs).toInt());
    const quint64 seed = parser.value(u"seed"_qs).toULongLong();
    const QString work = parser.value(u"work"_qs);

    const QByteArray base = cachedGuide(work, channels, days, seed, false);
    const QByteArray changed = cachedGuide(work, channels, days, seed, true);
    QString error;
    const QByteArray delta = epg::GuideDelta::make(base, changed, &error);
    const QByteArray applied = epg::GuideDelta::apply(base, delta, &error);
    auto g0 = epg::Guide::fromBytes(base, &error);
    auto g1 = epg::Guide::fromBytes(applied, &error);
    if (!g0 || !g1) {
        std::fprintf(stderr, "bench_scheduler: %s\n", qPrintable(error));
        return 1;
    }
    std::printf("guide: %d channels x %d days, %u airings, %u programmes; delta %lld bytes\n", g0->channelCount(), days,
                g0->airingCount(), g0->programmeCount(), qint64(delta.size()));

    int series = 0;
    const QList<dvr::RecordingRule> rules = makeRules(*g0, ruleCount, seed, &series);
    int kinds[4] = {};
    for (const auto &r : rules)
        ++kinds[int(r.kind)];
    std::printf("rules: %d (series id %d, title %d, regex %d) over %d episodic titles\n", int(rules.size()), kinds[1],
                kinds[2], kinds[3], series);
    dvr::SchedulerOptions options;
    options.capacity.nodes.clear();
    for (int n = 0; n < parser.value(u"nodes"_qs).toInt(); ++n)
        options.capacity.nodes.append({QStringLiteral("node%1").arg(n + 1), parser.value(u"streams"_qs).toInt()});
    options.matchThreads = parser.value(u"threads"_qs).toInt();
    const qint64 now = g0->info().validFrom + 3600;

    const bool updateOnly = parser.isSet(u"update-only"_qs);
    Times full, planOnly, update;
    dvr::SchedulePlan fullPlan;
    for (int run = 0; run < (updateOnly ? 0 : runs); ++run) {
        dvr::Scheduler s(options);
        s.setRules(rules);
        const qint64 w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
        fullPlan = s.evaluate(g0, now);
        full.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
        const qint64 w2 = clockNs(CLOCK_MONOTONIC), c2 = clockNs(CLOCK_PROCESS_CPUTIME_ID);
        s.plan(now);
        planOnly.add(clockNs(CLOCK_MONOTONIC) - w2, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c2);
    }
    int reasons[7] = {};
    for (const auto &sk : fullPlan.skipped)
        ++reasons[int(sk.reason)];
    qint64 candidates = fullPlan.recordings.size() + fullPlan.skipped.size();
    std::printf("matched airings (not ended): %lld\n", candidates);
    std::printf("plan: %d recordings, %d airings skipped (window %d, not new %d, recorded %d, duplicate %d, moved %d, "
                "keep %d, conflict %d), %d rule reports\n",
                int(fullPlan.recordings.size()), int(fullPlan.skipped.size()), reasons[0], reasons[1], reasons[2],
                reasons[3], reasons[4], reasons[5], reasons[6], int(fullPlan.ruleReports.size()));
    std::printf("plan digest: %s\n", planDigest(fullPlan).constData());
    std::printf("full evaluation (index + match + plan): %s\n", qPrintable(full.text()));
    std::printf("  of which plan only:                    %s\n", qPrintable(planOnly.text()));

    dvr::ScheduleChanges changes;
    dvr::SchedulePlan updated;
    std::unique_ptr<dvr::Scheduler> repaired;
    for (int run = 0; run < runs; ++run) {
        auto s = std::make_unique<dvr::Scheduler>(options);
        s->setRules(rules);
        s->evaluate(g0, now);
        const qint64 w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
        CALLGRIND_START_INSTRUMENTATION;
        updated = s->update(g1, now, &changes);
        CALLGRIND_STOP_INSTRUMENTATION;
        update.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
        repaired = std::move(s);
    }
    std::printf("delta: %d airings changed, %d rules re-matched; plan: %d added, %d removed, %d moved, %d lost\n",
                changes.airingsChanged, changes.rulesRematched, int(changes.added.size()), int(changes.removed.size()),
                int(changes.moved.size()), int(changes.lost.size()));
    std::printf("re-evaluation after the delta:          %s\n", qPrintable(update.text()));
    std::printf("plan digest after the delta: %s\n", planDigest(updated).constData());
    if (updateOnly)
        return 0;
    // The repair keeps its promises (every airing a full evaluation of the changed guide gives an
    // outcome has one, and it is true), and changes far fewer recordings than a full evaluation.
    dvr::Scheduler check(options);
    check.setRules(rules);
    const dvr::SchedulePlan full1 = check.evaluate(g1, now);
    dvr::PlanCheck checker;
    checker.rules = rules;
    checker.capacity = options.capacity;
    checker.now = now;
    checker.identityAt = [&](const QString &channel, qint64 start) { return repaired->identityAt(channel, start); };
    for (const dvr::PlannedRecording &p : full1.recordings)
        checker.matched.insert(dvr::PlanCheck::outcomeKey(p.ruleId, p.channelId, p.start));
    for (const dvr::SkippedAiring &sk : full1.skipped)
        checker.matched.insert(dvr::PlanCheck::outcomeKey(sk.airing.ruleId, sk.airing.channelId, sk.airing.start));
    const QStringList fullProblems = checker.problems(full1);
    std::printf("full evaluation of the changed guide: digest %s\n", planDigest(full1).constData());
    std::printf("full evaluation of the changed guide valid: %s (%d problems)\n", fullProblems.isEmpty() ? "yes" : "NO",
                int(fullProblems.size()));
    for (qsizetype i = 0; i < fullProblems.size() && i < 5; ++i)
        std::printf("  %s\n", qPrintable(fullProblems[i]));
    QStringList problems = checker.problems(updated);
    // The outcomes the repair kept or patched are what making them all again gives.
    const dvr::SchedulePlan scratch = repaired->outcomesFromScratch();
    const bool sameOutcomes = scratch.recordings == updated.recordings && scratch.skipped == updated.skipped
        && scratch.ruleReports == updated.ruleReports && scratch.conflicts == updated.conflicts;
    std::printf("outcomes equal those made from scratch: %s\n", sameOutcomes ? "yes" : "NO");
    if (!sameOutcomes)
        problems << QStringLiteral("the repaired outcomes differ from those made from scratch");
    std::printf("valid: %s", problems.isEmpty() ? "yes\n" : "NO\n");
    for (qsizetype i = 0; i < problems.size() && i < 20; ++i)
        std::printf("  %s\n", qPrintable(problems[i]));
    std::printf("recordings changed (rule, channel, start, node): by the update %d, by a full evaluation %d; "
                "conflicts %d (full evaluation %d)\n",
                difference(fullPlan, updated), difference(fullPlan, full1), updated.conflicts, full1.conflicts);
    return problems.isEmpty() ? 0 : 2;
}
