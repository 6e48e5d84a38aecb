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
//                        [--update-only] [--rule-change]
// --update-only: only the evaluation the update starts from and the update (no timing of a full
// evaluation, no checks), for callgrind: under valgrind the update alone is instrumented
// (`valgrind --tool=callgrind --instr-atstart=no --toggle-collect='*Scheduler::update*'
//  bench_scheduler --update-only --runs 1 --threads 1`), the rest runs uninstrumented (faster).
// --rule-change: only the plan after one rule change (a new single-airing rule, "record this", then
// its removal), a repair of the kept plan, against a full plan of the same rules (what a rule
// change cost before it was repaired: the plan after setCapacity, which drops the kept plan).
// The two guides are compiled once into --work (a 1000 x 14 compile takes a while) and reused.

#include "schedulerinput.h"

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

#include <sys/resource.h>
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
using namespace benchinput;

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

/// Minor page faults of the process so far (memory touched for the first time: what allocating
/// and freeing large buffers per update costs besides instructions, whatever the machine's load).
long minorFaults()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
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
    parser.addOption({u"rule-change"_qs, u"only the plan after a rule added and removed, against a full plan"_qs});
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

    if (parser.isSet(u"rule-change"_qs)) {
        options.repairRuleChanges = true;
        dvr::Scheduler s(options);
        s.setRules(rules);
        const dvr::SchedulePlan first = s.evaluate(g0, now);
        Times added, removed, whole;
        QRandomGenerator rng{quint32(seed)};
        bool same = true;
        for (int run = 0; run < runs; ++run) {
            // A viewer's "record this": one airing, on a channel and at a time drawn from the guide.
            epg::Airing a;
            do
                a = g0->airing(rng.bounded(g0->airingCount()));
            while (a.start <= now);
            dvr::RecordingRule r;
            r.id = 1000000 + run;
            r.kind = dvr::RuleKind::Single;
            r.channelId = g0->channelId(int(a.channel));
            r.start = a.start;
            r.created = now;
            s.upsertRule(r);
            qint64 w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
            const dvr::SchedulePlan p = s.plan(now);
            added.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
            const dvr::SchedulePlan scratch = s.outcomesFromScratch();
            same = same && scratch.recordings == p.recordings && scratch.skipped == p.skipped;
            s.removeRule(r.id);
            w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
            s.plan(now);
            removed.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
            s.setCapacity(options.capacity); // drops the kept plan: the next plan is a full one
            w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
            s.plan(now);
            whole.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
        }
        std::printf("plan digest: %s\n", planDigest(first).constData());
        std::printf("plan after a rule added (repair):   %s\n", qPrintable(added.text()));
        std::printf("plan after it was removed (repair): %s\n", qPrintable(removed.text()));
        std::printf("full plan of the same rules:        %s\n", qPrintable(whole.text()));
        std::printf("outcomes after a rule added equal those made from scratch: %s\n", same ? "yes" : "NO");
        return same ? 0 : 2;
    }
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
    std::vector<double> updateFaults;
    for (int run = 0; run < runs; ++run) {
        auto s = std::make_unique<dvr::Scheduler>(options);
        s->setRules(rules);
        s->evaluate(g0, now);
        const long f = minorFaults();
        const qint64 w = clockNs(CLOCK_MONOTONIC), c = clockNs(CLOCK_PROCESS_CPUTIME_ID);
        CALLGRIND_START_INSTRUMENTATION;
        updated = s->update(g1, now, &changes);
        CALLGRIND_STOP_INSTRUMENTATION;
        update.add(clockNs(CLOCK_MONOTONIC) - w, clockNs(CLOCK_PROCESS_CPUTIME_ID) - c);
        updateFaults.push_back(double(minorFaults() - f));
        repaired = std::move(s);
    }
    std::printf("delta: %d airings changed, %d rules re-matched; plan: %d added, %d removed, %d moved, %d lost\n",
                changes.airingsChanged, changes.rulesRematched, int(changes.added.size()), int(changes.removed.size()),
                int(changes.moved.size()), int(changes.lost.size()));
    std::printf("re-evaluation after the delta:          %s\n", qPrintable(update.text()));
    QStringList faultRuns;
    for (const double f : updateFaults)
        faultRuns << QString::number(f, 'f', 0);
    std::printf("  page faults (minor) in it:             median %.0f (runs: %s)\n", Times::median(updateFaults),
                qPrintable(faultRuns.join(u", ")));
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
