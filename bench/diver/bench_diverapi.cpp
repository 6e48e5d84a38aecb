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
// --library N (stop 20, paging): N recordings of --owners viewers in diver's database (a third as
// many stored copies, three viewers each, finished) before it starts; then the operator's
// GET /api/recordings whole (as before paging, and as old clients still ask) and by pages of
// --page (following "next" to the end: the same recordings in the same order, compared), with
// bytes and times; the main thread serves, so under callgrind with
// --toggle-collect='*onClientThread*' and --only recordings-whole (resp. recordings-paged) its
// count is diver's work for the list.
// --ticks N: N of diver's ticks (reconcile(): plan when due, start what is due) with the plan in
// place, and what startDue() read (DiverServer::dueStats()) against the plan's size, which the
// walk before stop 20 read every tick.
// --rule-saves N (stop 22): N "record this" presses (POST /api/recordings, a single-airing rule
// each) by --savers boxes at once, each box one after another on its own connection, against the
// plan at the benchmark's size: each answer's latency (p50, p99, max; the answer carries the new
// plan's outcome for the rule), the time for all, and how many plans diver made for them
// (diver_plans_total). Every save is a plan of the whole book (a rule change is not repaired yet).
//
// usage: bench_diverapi [--channels N] [--days D] [--rules N] [--owners N] [--box SERIAL]
//                       [--requests N] [--only status|upcoming|recordings-whole|recordings-paged]
//                       [--library N] [--page N] [--ticks N]
//                       [--rule-saves N] [--savers K]
//                       [--capacity N] [--no-index] [--work DIR] [--seed S]

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
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
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

/// CPU time of the calling thread (diver's, when called on the main thread around its serving).
qint64 threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
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

/// `count` recordings of `owners` viewers, a copy for every three (finished, 30 min of 2 s
/// segments), on the guide's channels over the last 60 days, written into diver's database in one
/// transaction (the tables made by RecordingStore::open()).
bool fillLibrary(const QString &database, const epg::Guide &guide, int count, int owners, QString *error)
{
    {
        diver::RecordingStore store;
        if (!store.open(database, error))
            return false;
    }
    const QString name = u"bench-library"_qs;
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, name);
        db.setDatabaseName(database);
        if (!db.open()) {
            *error = db.lastError().text();
        } else {
            QSqlQuery copy(db), rec(db);
            db.transaction();
            copy.prepare(u"INSERT INTO dvr_copies (id, channel_id, airing_start, record_start, record_stop, node, directory, state, "
                         "segments, bytes) VALUES (?, ?, ?, ?, ?, 'dvr-1', ?, 1, 900, 1125000000)"_qs);
            rec.prepare(u"INSERT INTO dvr_recordings (owner, rule_id, channel_id, title, airing_start, airing_stop, record_start, "
                        "record_stop, copy_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_qs);
            const qint64 now = QDateTime::currentSecsSinceEpoch();
            ok = true;
            for (int i = 0; i < count && ok; ++i) {
                const int copyId = i / 3 + 1;
                const QString channel = guide.channelId(copyId % guide.channelCount());
                const qint64 start = (now - 60 * 86400) / 1800 * 1800 + qint64(copyId) * 60 * 86400 / (count / 3 + 1) / 1800 * 1800;
                if (i % 3 == 0) {
                    copy.addBindValue(copyId);
                    copy.addBindValue(channel);
                    copy.addBindValue(start);
                    copy.addBindValue(start);
                    copy.addBindValue(start + 1800);
                    copy.addBindValue(QStringLiteral("/srv/dvr/recordings/%1/%2").arg(channel).arg(copyId));
                    ok = copy.exec();
                }
                const int owner = (copyId * 7 + i % 3) % owners;
                rec.addBindValue(QStringLiteral("STB-%1").arg(owner, 5, 10, QLatin1Char('0')));
                rec.addBindValue(owner + 1);
                rec.addBindValue(channel);
                rec.addBindValue(QStringLiteral("Programme %1").arg(copyId % 5000));
                rec.addBindValue(start);
                rec.addBindValue(start + 1800);
                rec.addBindValue(start);
                rec.addBindValue(start + 1800);
                rec.addBindValue(copyId);
                rec.addBindValue(start);
                ok = ok && rec.exec();
            }
            if (!ok)
                *error = copy.lastError().text() + rec.lastError().text();
            ok = ok && db.commit();
            db.close();
        }
    }
    QSqlDatabase::removeDatabase(name);
    return ok;
}

/// The operator's library as `run` pages through it: the ids in order, bytes, each page's time.
struct LibraryRun
{
    QList<qint64> ids;
    qint64 bytes = 0;
    qint64 largest = 0; ///< bytes of the largest answer
    std::vector<double> pageMs;
    double totalMs = 0;
    double serverCpuMs = 0; ///< diver's thread (the main one) while the client read
    QByteArray failure;
};

/// GET /api/recordings as the operator, whole (`page` 0) or by pages of `page` to the end.
LibraryRun readLibrary(const QString &base, const QByteArray &token, int page)
{
    LibraryRun run;
    QNetworkAccessManager nam;
    QString cursor;
    QElapsedTimer total;
    total.start();
    for (int pages = 0; pages < 100000; ++pages) {
        QString path = base + u"/api/recordings"_qs;
        if (page > 0)
            path += QStringLiteral("?limit=%1").arg(page) + (cursor.isEmpty() ? QString() : u"&cursor="_qs + cursor);
        QNetworkRequest request{QUrl(path)};
        request.setRawHeader("Authorization", "Bearer " + token);
        QElapsedTimer timer;
        timer.start();
        QNetworkReply *reply = nam.get(request);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        loop.exec();
        const QByteArray body = reply->readAll();
        run.pageMs.push_back(double(timer.nsecsElapsed()) / 1e6);
        reply->deleteLater();
        if (reply->error() != QNetworkReply::NoError) {
            run.failure = reply->errorString().toUtf8() + ": " + body.left(300);
            break;
        }
        run.bytes += body.size();
        run.largest = std::max<qint64>(run.largest, body.size());
        const QJsonObject answer = QJsonDocument::fromJson(body).object();
        for (const QJsonValue &v : answer.value(u"recordings"_qs).toArray())
            run.ids.append(v.toObject().value(u"id"_qs).toInteger());
        cursor = answer.value(u"next"_qs).toString();
        if (page <= 0 || cursor.isEmpty())
            break;
    }
    run.totalMs = double(total.nsecsElapsed()) / 1e6;
    return run;
}

/// `count` POST /api/recordings of box `serial` one after another on one connection: airing
/// `first + i * step` of the guide (in order), from this (the client's) thread.
RouteRun recordAirings(const QString &base, const QByteArray &ticket, const epg::Guide &guide, int first, int step, int count)
{
    RouteRun run;
    QNetworkAccessManager nam;
    for (int i = 0; i < count; ++i) {
        const epg::Airing a = guide.airing(quint32((first + qint64(i) * step) % guide.airingCount()));
        QNetworkRequest request{QUrl(base + u"/api/recordings"_qs)};
        request.setRawHeader("Authorization", "Bearer " + ticket);
        request.setRawHeader("Content-Type", "application/json");
        const QByteArray body = QJsonDocument(QJsonObject{{u"channel"_qs, guide.channelId(int(a.channel))}, {u"start"_qs, a.start}})
                                    .toJson(QJsonDocument::Compact);
        QElapsedTimer timer;
        timer.start();
        QNetworkReply *reply = nam.post(request, body);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        loop.exec();
        const double ms = double(timer.nsecsElapsed()) / 1e6;
        const QByteArray answer = reply->readAll();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status != 201 || !QJsonDocument::fromJson(answer).object().contains(u"planned"_qs)) {
            if (run.failures++ == 0)
                run.firstFailure = QByteArray::number(status) + ": " + reply->errorString().toUtf8() + ": " + answer.left(300);
        } else {
            run.ms.push_back(ms);
            run.lastBody = answer;
        }
        reply->deleteLater();
    }
    return run;
}

/// diver's counter `name` (no labels) from its /metrics, -1 when not there.
double metricValue(const QString &base, const QByteArray &name)
{
    QNetworkAccessManager nam;
    QNetworkReply *reply = nam.get(QNetworkRequest(QUrl(base + u"/metrics"_qs)));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    double value = -1;
    for (const QByteArray &line : reply->readAll().split('\n'))
        if (line.startsWith(QByteArray(name + ' ')))
            value = line.mid(name.size() + 1).toDouble();
    reply->deleteLater();
    return value;
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
    parser.addOption({u"library"_qs, u"recordings in diver's library: ask for the operator's list instead of a box's answers"_qs, u"n"_qs, u"0"_qs});
    parser.addOption({u"page"_qs, u"recordings a page of the paged list"_qs, u"n"_qs, u"1000"_qs});
    parser.addOption({u"ticks"_qs, u"diver's ticks to count startDue()'s work over"_qs, u"n"_qs, u"0"_qs});
    parser.addOption({u"rule-saves"_qs, u"\"record this\" presses (POST /api/recordings) to time, shared out among --savers boxes"_qs, u"n"_qs, u"0"_qs});
    parser.addOption({u"savers"_qs, u"boxes pressing at once (each one after another)"_qs, u"n"_qs, u"8"_qs});
    parser.addOption({u"seed"_qs, u"generator and rule seed"_qs, u"n"_qs, u"1"_qs});
    parser.addOption({u"work"_qs, u"where the compiled guide is kept"_qs, u"dir"_qs, u"/tmp/bench-scheduler"_qs});
    parser.process(app);
    const int channels = parser.value(u"channels"_qs).toInt(), days = parser.value(u"days"_qs).toInt();
    const int ruleCount = parser.value(u"rules"_qs).toInt(), owners = std::max(1, parser.value(u"owners"_qs).toInt());
    const int requests = std::max(1, parser.value(u"requests"_qs).toInt());
    const quint64 seed = parser.value(u"seed"_qs).toULongLong();
    const QString work = parser.value(u"work"_qs), box = parser.value(u"box"_qs), only = parser.value(u"only"_qs);
    const int library = parser.value(u"library"_qs).toInt(), pageSize = parser.value(u"page"_qs).toInt();
    const int ticks = parser.value(u"ticks"_qs).toInt();
    const int ruleSaves = parser.value(u"rule-saves"_qs).toInt(), savers = std::max(1, parser.value(u"savers"_qs).toInt());
    const QStringList routes = library > 0 ? QStringList{u"recordings-whole"_qs, u"recordings-paged"_qs}
                                           : QStringList{u"status"_qs, u"upcoming"_qs};
    if (!only.isEmpty() && !routes.contains(only)) {
        std::fprintf(stderr, "bench_diverapi: --only %s, not %s\n", qPrintable(routes.join(u" or --only "_qs)), qPrintable(only));
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

    if (library > 0) {
        QElapsedTimer fill;
        fill.start();
        if (!fillLibrary(c.effectiveDatabase(), *guide, library, owners, &error)) {
            std::fprintf(stderr, "bench_diverapi: the library: %s\n", qPrintable(error));
            return 1;
        }
        std::printf("library: %d recordings of %d viewers in %d copies, written in %.1f s\n", library, owners, (library + 2) / 3,
                    double(fill.elapsed()) / 1000);
    }

    QElapsedTimer startTimer;
    startTimer.start();
    diver::DiverServer diver(c);
    if (!diver.start(&error)) {
        std::fprintf(stderr, "bench_diverapi: diver: %s\n", qPrintable(error));
        return 1;
    }
    // Only the planner looks for what is due (docs/dvr-scheduler.md, "Several nodes: one
    // planner"): its lease is claimed when the event loop first turns, as it does in diver.
    QElapsedTimer claiming;
    claiming.start();
    while (!diver.isPlanner() && claiming.elapsed() < 30000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    if (!diver.isPlanner()) {
        std::fprintf(stderr, "bench_diverapi: diver did not become the planner within 30 s\n");
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
    if (ticks > 0) {
        // What a tick costs with the plan in place (the guide from tomorrow: nothing is due, and
        // a replan every 30 s of wall time). The walk before stop 20 read the whole plan each tick.
        const diver::DiverServer::DueStats before = diver.dueStats();
        const qint64 cpu = cpuNs();
        for (int i = 0; i < ticks; ++i)
            diver.reconcile();
        const double ms = double(cpuNs() - cpu) / 1e6;
        const diver::DiverServer::DueStats after = diver.dueStats();
        std::printf("ticks: %d reconcile() in %.1f ms CPU (%.3f ms each); startDue read %lld plan items and looked %lld up "
                    "in the database over %lld ticks and %lld new plans (the plan: %d recordings, which the walk read every tick)\n",
                    ticks, ms, ms / ticks, after.examined - before.examined, after.lookups - before.lookups,
                    after.ticks - before.ticks, after.plans - before.plans, int(diver.plan().recordings.size()));
    }
    if (library > 0) {
        const QByteArray token = c.adminToken.toUtf8();
        LibraryRun whole, paged;
        if (only.isEmpty() || only == u"recordings-whole") {
            const qint64 cpu = threadCpuNs();
            onClientThread([&] { whole = readLibrary(base, token, 0); });
            whole.serverCpuMs = double(threadCpuNs() - cpu) / 1e6;
        }
        if (only.isEmpty() || only == u"recordings-paged") {
            const qint64 cpu = threadCpuNs();
            onClientThread([&] { paged = readLibrary(base, token, std::max(1, pageSize)); });
            paged.serverCpuMs = double(threadCpuNs() - cpu) / 1e6;
        }
        auto idsDigest = [](const QList<qint64> &ids) {
            QByteArray bytes;
            for (const qint64 id : ids)
                bytes += QByteArray::number(id) + ',';
            return digest(bytes);
        };
        for (const LibraryRun *run : {&whole, &paged}) {
            if (run->pageMs.empty())
                continue;
            const bool isWhole = run == &whole;
            std::vector<double> sorted = run->pageMs;
            std::sort(sorted.begin(), sorted.end());
            std::printf("GET /api/recordings %s: %d recordings in %d answer(s), %lld bytes (%.1f KB an answer at most), "
                        "%.1f ms in all (diver's thread %.1f ms CPU, %.2f ms an answer); an answer p50 %.1f ms, max %.1f ms, the first %.1f ms; "
                        "ids digest %s%s%s\n",
                        isWhole ? "whole" : qPrintable(QStringLiteral("?limit=%1 to the end").arg(pageSize)), int(run->ids.size()),
                        int(run->pageMs.size()), run->bytes, double(run->largest) / 1024,
                        run->totalMs, run->serverCpuMs, run->serverCpuMs / double(run->pageMs.size()), sorted[sorted.size() / 2], sorted.back(), run->pageMs.front(),
                        idsDigest(run->ids).constData(), run->failure.isEmpty() ? "" : "; failed: ", run->failure.constData());
            failed += !run->failure.isEmpty();
        }
        if (!whole.ids.isEmpty() && !paged.ids.isEmpty())
            std::printf("pages %s the whole list\n", whole.ids == paged.ids ? "equal" : "DIFFER FROM");
    }
    if (ruleSaves > 0) {
        // Boxes of their own ("STB-SAVE-k"), pressing record on airings spread over the guide.
        const double plansBefore = metricValue(base, "diver_plans_total");
        std::vector<RouteRun> runs(size_t(savers), RouteRun{});
        std::vector<QByteArray> tickets;
        for (int k = 0; k < savers; ++k) {
            protocol::BoxTicket saver = t;
            saver.serial = QStringLiteral("STB-SAVE-%1").arg(k);
            saver.boxId = u"b-"_qs + saver.serial;
            tickets.push_back(saver.sign(key));
        }
        QElapsedTimer all;
        all.start();
        onClientThread([&] {
            std::vector<std::unique_ptr<QThread>> threads;
            const int each = std::max(1, ruleSaves / savers);
            const int step = int(guide->airingCount() / quint32(each * savers + 1)) | 1;
            for (int k = 0; k < savers; ++k) {
                threads.emplace_back(QThread::create([&, k] {
                    runs[size_t(k)] = recordAirings(base, tickets[size_t(k)], *guide, 7 + k * each * step, step, each);
                }));
                threads.back()->start();
            }
            for (auto &th : threads)
                th->wait();
        });
        const double allMs = double(all.nsecsElapsed()) / 1e6;
        RouteRun merged;
        for (const RouteRun &r : runs) {
            merged.ms.insert(merged.ms.end(), r.ms.begin(), r.ms.end());
            merged.failures += r.failures;
            if (merged.firstFailure.isEmpty())
                merged.firstFailure = r.firstFailure;
        }
        const double plans = metricValue(base, "diver_plans_total") - plansBefore;
        std::printf("POST /api/recordings x %d by %d boxes at once: p50 %.1f ms, p99 %.1f ms, max %.1f ms; all in %.1f s; "
                    "%.0f plans made for them; %d failed\n",
                    int(merged.ms.size()) + merged.failures, savers, merged.percentile(0.5), merged.percentile(0.99),
                    merged.percentile(1.0), allMs / 1000, plans, merged.failures);
        if (merged.failures)
            std::printf("  first failure: %s\n", merged.firstFailure.constData());
        failed += merged.failures;
    }
    for (const QString &route : {u"status"_qs, u"upcoming"_qs}) {
        if ((!only.isEmpty() && only != route) || library > 0 || ruleSaves > 0)
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

    if (!parser.isSet(u"no-index"_qs) && library == 0 && ruleSaves == 0) {
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
