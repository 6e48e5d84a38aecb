// Diver's per-box answers (issue 14): what GET /api/status and GET /api/upcoming cost one box when
// the plan is at an operator's size. bench_scheduler's 10,000 series rules, shared out among
// --owners viewers, over its generated 1,000 channels x 14 days guide (here starting tomorrow, so
// that nothing is due while it runs); an in-process diver (DiverServer) plans them at start. A
// client thread (QNetworkAccessManager, one keep-alive connection) then asks each route --requests
// times for one box and prints the latency's p50, p99 and max, and a digest of the answers (the
// same plan gives the same digest before and after a change of how they are made). Then the CPU
// time of indexing the plan per owner (dvr::PlanIndex, which diver does with every plan): from
// scratch, and after the repair a guide delta (bench_scheduler's) makes.
//
// Instructions per request on this noisy machine: run under callgrind with the route's own
// function collected (the ticket's check and the HTTP server around it are the same either way):
//   valgrind --tool=callgrind --toggle-collect='iptv::diver::DiverServer::statusReply*'
//       bench_diverapi --requests 20 --only status --no-index
// and divide the total by --requests.
//
// usage: bench_diverapi [--channels N] [--days D] [--rules N] [--owners N] [--box SERIAL]
//                       [--requests N] [--only status|upcoming] [--capacity N] [--no-index] [--work DIR] [--seed S]

#include "schedulerinput.h"

#include <diverserver.h>

#include <payload/keys.h>
#include <protocol/boxticket.h>

#include <dvr/planindex.h>
#include <dvr/rulestore.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSaveFile>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

using namespace iptv;
using namespace benchinput;

namespace {

/// Latencies (ms) of one route's requests, and what it answered last.
struct RouteRun
{
    std::vector<double> ms;
    QByteArray lastBody;
    int failures = 0;
    QByteArray firstFailure;

    double percentile(double p) const
    {
        if (ms.empty())
            return 0;
        std::vector<double> v = ms;
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
    }
};

/// `count` GETs of `url` one after another on one connection, from this (the client's) thread.
RouteRun ask(const QUrl &url, const QByteArray &ticket, int count)
{
    RouteRun run;
    QNetworkAccessManager nam;
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", "Bearer " + ticket);
    for (int i = 0; i < count; ++i) {
        QElapsedTimer timer;
        timer.start();
        QNetworkReply *reply = nam.get(request);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        loop.exec();
        const double ms = double(timer.nsecsElapsed()) / 1e6;
        const QByteArray body = reply->readAll();
        if (reply->error() != QNetworkReply::NoError) {
            if (run.failures++ == 0)
                run.firstFailure = reply->errorString().toUtf8() + ": " + body.left(300);
        } else {
            run.ms.push_back(ms);
            run.lastBody = body;
        }
        reply->deleteLater();
    }
    return run;
}

/// Runs `work` on a thread of its own (with an event loop for its network requests) while this
/// thread's event loop serves diver.
template<typename Work>
void onClientThread(Work work)
{
    QEventLoop serving;
    std::unique_ptr<QThread> thread(QThread::create(std::move(work)));
    QObject::connect(thread.get(), &QThread::finished, &serving, &QEventLoop::quit);
    thread->start();
    serving.exec();
    thread->wait();
}

qint64 cpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

QString runsText(const std::vector<double> &v)
{
    QStringList out;
    for (const double x : v)
        out << QString::number(x, 'f', 2);
    return out.join(u", "_qs);
}

QByteArray digest(const QByteArray &bytes)
{
    return QCryptographicHash::hash(bytes, QCryptographicHash::Sha1).toHex().left(16);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"iptv.http.debug=false"_qs); // a line a request
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Diver benchmark: a box's GET /api/status and GET /api/upcoming with an operator's plan"_qs);
    parser.addHelpOption();
    parser.addOption({u"channels"_qs, u"guide channels"_qs, u"n"_qs, u"1000"_qs});
    parser.addOption({u"days"_qs, u"guide days"_qs, u"n"_qs, u"14"_qs});
    parser.addOption({u"rules"_qs, u"series rules"_qs, u"n"_qs, u"10000"_qs});
    parser.addOption({u"owners"_qs, u"viewers the rules are shared out among (rule i is viewer i mod N's)"_qs, u"n"_qs, u"3000"_qs});
    parser.addOption({u"box"_qs, u"the viewer whose box asks"_qs, u"serial"_qs, u"STB-00001"_qs});
    parser.addOption({u"requests"_qs, u"requests per route"_qs, u"n"_qs, u"1000"_qs});
    parser.addOption({u"only"_qs, u"ask this route only (status, upcoming)"_qs, u"route"_qs});
    parser.addOption({u"capacity"_qs, u"diver's concurrent streams (one node)"_qs, u"n"_qs, u"160"_qs});
    parser.addOption({u"no-index"_qs, u"do not time indexing the plan (dvr::PlanIndex)"_qs});
    parser.addOption({u"seed"_qs, u"generator and rule seed"_qs, u"n"_qs, u"1"_qs});
    parser.addOption({u"work"_qs, u"where the compiled guide is kept"_qs, u"dir"_qs, u"/tmp/bench-scheduler"_qs});
    parser.process(app);
    const int channels = parser.value(u"channels"_qs).toInt(), days = parser.value(u"days"_qs).toInt();
    const int ruleCount = parser.value(u"rules"_qs).toInt(), owners = std::max(1, parser.value(u"owners"_qs).toInt());
    const int requests = std::max(1, parser.value(u"requests"_qs).toInt());
    const quint64 seed = parser.value(u"seed"_qs).toULongLong();
    const QString work = parser.value(u"work"_qs), box = parser.value(u"box"_qs), only = parser.value(u"only"_qs);
    if (!only.isEmpty() && only != u"status" && only != u"upcoming") {
        std::fprintf(stderr, "bench_diverapi: --only status or --only upcoming, not %s\n", qPrintable(only));
        return 1;
    }

    // Tomorrow 00:00 UTC: nothing is due while the benchmark runs (a guide a day).
    const qint64 start = (QDateTime::currentSecsSinceEpoch() / 86400 + 1) * 86400;
    const QByteArray guideBytes = cachedGuide(work, channels, days, seed, false, start);
    QString error;
    const auto guide = epg::Guide::fromBytes(guideBytes, &error);
    if (!guide) {
        std::fprintf(stderr, "bench_diverapi: %s\n", qPrintable(error));
        return 1;
    }
    int series = 0;
    QList<dvr::RecordingRule> rules = makeRules(*guide, ruleCount, seed, &series);

    QTemporaryDir dir(work + u"/diverapi-XXXXXX"_qs);
    const payload::SigningKey key = payload::SigningKey::generate();
    diver::DiverConfig c;
    c.bindAddress = QHostAddress::LocalHost;
    c.port = 0;
    c.dataDir = dir.filePath(u"data"_qs);
    c.guideFile = dir.filePath(u"guide"_qs);
    c.ticketKeyFiles = {dir.filePath(u"tickets.pub"_qs)};
    c.adminToken = QStringLiteral("bench-operator");
    c.capacity = parser.value(u"capacity"_qs).toInt();
    QFile guideFile(c.guideFile);
    if (!dir.isValid() || !QDir().mkpath(c.dataDir) || !key.publicKey().save(c.ticketKeyFiles.first(), &error)
        || !guideFile.open(QIODevice::WriteOnly) || guideFile.write(guideBytes) != guideBytes.size()) {
        std::fprintf(stderr, "bench_diverapi: cannot prepare %s: %s\n", qPrintable(dir.path()), qPrintable(error));
        return 1;
    }
    guideFile.close();
    {
        dvr::RuleStore store;
        if (!store.open(c.effectiveDatabase(), &error)) {
            std::fprintf(stderr, "bench_diverapi: %s\n", qPrintable(error));
            return 1;
        }
        for (int i = 0; i < rules.size(); ++i) {
            dvr::RecordingRule &r = rules[i];
            r.id = 0;
            r.owner = QStringLiteral("STB-%1").arg(i % owners, 5, 10, QLatin1Char('0'));
            if (!store.save(&r, &error)) {
                std::fprintf(stderr, "bench_diverapi: rule %d: %s\n", i, qPrintable(error));
                return 1;
            }
        }
    }

    QElapsedTimer startTimer;
    startTimer.start();
    diver::DiverServer diver(c);
    if (!diver.start(&error)) {
        std::fprintf(stderr, "bench_diverapi: diver: %s\n", qPrintable(error));
        return 1;
    }
    const dvr::SchedulePlan &plan = diver.plan();
    int boxRules = 0, boxPlanned = 0, boxSkipped = 0;
    for (const dvr::RecordingRule &r : std::as_const(rules))
        boxRules += r.owner == box;
    for (const dvr::PlannedRecording &p : plan.recordings)
        boxPlanned += p.owner == box;
    QSet<qint64> boxRuleIds;
    for (const dvr::RecordingRule &r : std::as_const(rules))
        if (r.owner == box)
            boxRuleIds.insert(r.id);
    for (const dvr::SkippedAiring &s : plan.skipped)
        boxSkipped += boxRuleIds.contains(s.airing.ruleId);
    std::printf("guide: %d channels x %d days from %s, %u airings\n", guide->channelCount(), days,
                qPrintable(QDateTime::fromSecsSinceEpoch(start, Qt::UTC).toString(Qt::ISODate)), guide->airingCount());
    std::printf("rules: %d of %d viewers; diver started and planned in %.1f s\n", int(rules.size()), owners,
                double(startTimer.elapsed()) / 1000);
    std::printf("plan: %d recordings, %d airings skipped, %d conflicts, %d rule reports\n", int(plan.recordings.size()),
                int(plan.skipped.size()), plan.conflicts, int(plan.ruleReports.size()));
    std::printf("box %s: %d rules, %d recordings planned, %d airings skipped\n", qPrintable(box), boxRules, boxPlanned, boxSkipped);

    protocol::BoxTicket t;
    t.boxId = u"b-"_qs + box;
    t.serial = box;
    t.audience = QStringLiteral("diver");
    t.issuedAt = QDateTime::currentSecsSinceEpoch();
    t.expiresAt = t.issuedAt + 24 * 3600;
    const QByteArray ticket = t.sign(key);
    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(diver.httpPort());
    int failed = 0;
    for (const QString &route : {u"status"_qs, u"upcoming"_qs}) {
        if (!only.isEmpty() && only != route)
            continue;
        RouteRun run;
        onClientThread([&] { run = ask(QUrl(base + u"/api/"_qs + route), ticket, requests); });
        QJsonObject answer = QJsonDocument::fromJson(run.lastBody).object();
        answer.remove(u"archiveTokensExpire"_qs); // the time it was asked
        QString says;
        if (route == u"status")
            says = QStringLiteral("planned %1, conflicts %2").arg(answer.value(u"planned"_qs).toInteger()).arg(answer.value(u"conflicts"_qs).toInteger());
        else
            says = QStringLiteral("planned %1, skipped %2, conflicts %3")
                       .arg(answer.value(u"planned"_qs).toArray().size())
                       .arg(answer.value(u"skipped"_qs).toArray().size())
                       .arg(answer.value(u"conflicts"_qs).toInteger());
        std::printf("GET /api/%-8s x %d: p50 %.3f ms, p99 %.3f ms, max %.3f ms; %d failed; answer %d bytes (%s), digest %s\n",
                    qPrintable(route), requests, run.percentile(0.5), run.percentile(0.99), run.percentile(1.0), run.failures,
                    int(run.lastBody.size()), qPrintable(says),
                    digest(QJsonDocument(answer).toJson(QJsonDocument::Compact)).constData());
        if (run.failures)
            std::printf("  first failure: %s\n", run.firstFailure.constData());
        failed += run.failures;
    }

    if (!parser.isSet(u"no-index"_qs)) {
        // Indexing a plan (dvr::PlanIndex, made by diver with every plan): from scratch, and after a
        // guide delta's repair, which shares the chunks of recordings it did not change.
        std::vector<double> rebuildMs;
        dvr::PlanIndex first;
        for (int run = 0; run < 5; ++run) {
            dvr::PlanIndex index;
            const qint64 cpu = cpuNs();
            index.rebuild(plan);
            rebuildMs.push_back(double(cpuNs() - cpu) / 1e6);
            if (run == 0)
                first = index;
        }
        std::printf("index a plan from scratch: median %.2f ms CPU (runs: %s)\n", median(rebuildMs), qPrintable(runsText(rebuildMs)));
        // The guide with a schedule change on every 50th channel (bench_scheduler's delta) replaces
        // the file; diver repairs its plan.
        const QByteArray changed = cachedGuide(work, channels, days, seed, true, start);
        QEventLoop replanned;
        QObject::connect(&diver, &diver::DiverServer::guideLoaded, &replanned, &QEventLoop::quit); // planned with it
        QTimer::singleShot(300000, &replanned, &QEventLoop::quit);
        QSaveFile replace(c.guideFile);
        if (!replace.open(QIODevice::WriteOnly) || replace.write(changed) != changed.size() || !replace.commit()) {
            std::fprintf(stderr, "bench_diverapi: cannot write %s\n", qPrintable(c.guideFile));
            return 1;
        }
        replanned.exec();
        const dvr::SchedulePlan repaired = diver.plan();
        std::vector<double> updateMs;
        dvr::PlanIndex::Stats stats;
        for (int run = 0; run < 5; ++run) {
            dvr::PlanIndex index = first;
            const qint64 cpu = cpuNs();
            index.index(repaired);
            updateMs.push_back(double(cpuNs() - cpu) / 1e6);
            stats = index.lastStats();
        }
        std::printf("index the plan repaired after a guide delta (%d recordings, %d conflicts): median %.2f ms CPU (runs: %s); "
                    "%s: chunks of recordings %lld read, %lld kept, %lld owners' lists changed; rules' parts of skipped "
                    "airings %lld read, %lld kept\n",
                    int(repaired.recordings.size()), repaired.conflicts, median(updateMs), qPrintable(runsText(updateMs)),
                    stats.rebuilt ? "rebuilt" : "incremental", qint64(stats.chunksRead), qint64(stats.chunksKept),
                    qint64(stats.ownersChanged), qint64(stats.partsRead), qint64(stats.partsKept));
    }
    diver.stop();
    return failed ? 2 : 0;
}
