#include "runner.h"

#include <core/service.h>
#include <core/subcommand.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSocketNotifier>

#include <cstdio>
#include <unistd.h>

namespace iptv::fleetsim {

namespace {

qint64 epochMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

QJsonObject percentiles(const boxlink::LatencyHistogram &h)
{
    return QJsonObject{{QStringLiteral("count"), double(h.count())},
                       {QStringLiteral("p50Ms"), h.percentileMs(0.50)},
                       {QStringLiteral("p99Ms"), h.percentileMs(0.99)},
                       {QStringLiteral("maxMs"), h.maxMs()}};
}

QString ms(double v)
{
    return v < 10 ? QString::number(v, 'f', 2) : QString::number(v, 'f', 0);
}

} // namespace

bool parseArguments(const QStringList &arguments, RunOptions *o, QString *error, QString *out)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Simulated set-top boxes for the control server: each box is a real libs/boxlink client with fake "
        "telemetry and simulated commands (reboot, screenshot, logs, installs)."));
    const QCommandLineOption help({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Shows this help."));
    const QCommandLineOption version(QStringLiteral("version"), QStringLiteral("Shows the version."));
    const QCommandLineOption server(QStringLiteral("server"), QStringLiteral("Box endpoint (default ws://127.0.0.1:8420/box); several separated by commas share the boxes."), QStringLiteral("url"));
    const QCommandLineOption spread(QStringLiteral("loopback-spread"), QStringLiteral("With a 127.0.0.1 server: also connect to 127.0.0.2 .. 127.0.0.n (the server must listen on them, e.g. on any address), so more than ~15,000 connections do not exhaust one address's ephemeral ports."), QStringLiteral("n"));
    const QCommandLineOption boxes(QStringLiteral("boxes"), QStringLiteral("Number of boxes (default 1000)."), QStringLiteral("n"));
    const QCommandLineOption first(QStringLiteral("first"), QStringLiteral("Serial number of the first box (default 0)."), QStringLiteral("n"));
    const QCommandLineOption prefix(QStringLiteral("serial-prefix"), QStringLiteral("Serial prefix (default SIM): SIM000000, SIM000001, ..."), QStringLiteral("text"));
    const QCommandLineOption rate(QStringLiteral("connect-rate"), QStringLiteral("Boxes started per second (default: as fast as possible)."), QStringLiteral("r"));
    const QCommandLineOption telemetry(QStringLiteral("telemetry-interval"), QStringLiteral("Seconds between telemetry samples per box (default: the server's; 0.1 floods)."), QStringLiteral("s"));
    const QCommandLineOption failPercent(QStringLiteral("install-fail-percent"), QStringLiteral("Installs that fail, in percent (default 0)."), QStringLiteral("p"));
    const QCommandLineOption installMode(QStringLiteral("install-mode"), QStringLiteral("sim (default: wait, then the injected outcome) or download (fetch the bundle with the box token and check its sha256)."), QStringLiteral("mode"));
    const QCommandLineOption processes(QStringLiteral("processes"), QStringLiteral("Child processes sharing the boxes (default 1: this process); each stays under the fd cap."), QStringLiteral("k"));
    const QCommandLineOption duration(QStringLiteral("duration"), QStringLiteral("Seconds to run (default: until Ctrl-C, or see --storm/--exit-when-online)."), QStringLiteral("s"));
    const QCommandLineOption storm(QStringLiteral("storm"), QStringLiteral("Once all are online, drop every connection at once and measure the time until all are back."));
    const QCommandLineOption stormAfter(QStringLiteral("storm-after"), QStringLiteral("Seconds online before the storm (default 2)."), QStringLiteral("s"));
    const QCommandLineOption exitOnline(QStringLiteral("exit-when-online"), QStringLiteral("Stop as soon as every box is online."));
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("Final statistics as JSON on stdout."));
    const QCommandLineOption quiet(QStringLiteral("quiet"), QStringLiteral("No progress lines."));
    const QCommandLineOption reboot(QStringLiteral("reboot-delay"), QStringLiteral("Milliseconds a simulated reboot keeps a box away (default 3000)."), QStringLiteral("ms"));
    const QCommandLineOption backoffBase(QStringLiteral("backoff-base"), QStringLiteral("First reconnect window in ms (default 1000)."), QStringLiteral("ms"));
    const QCommandLineOption backoffCap(QStringLiteral("backoff-cap"), QStringLiteral("Largest reconnect window in ms (default 30000)."), QStringLiteral("ms"));
    const QCommandLineOption heartbeat(QStringLiteral("heartbeat"), QStringLiteral("Ping interval in seconds (default: the server's)."), QStringLiteral("s"));
    const QCommandLineOption swVersion(QStringLiteral("software-version"), QStringLiteral("Version the boxes report (default 1.0.0)."), QStringLiteral("v"));
    const QCommandLineOption channel(QStringLiteral("release-channel"), QStringLiteral("clean (default) or experimental."), QStringLiteral("name"));
    const QCommandLineOption seed(QStringLiteral("seed"), QStringLiteral("Seed of the simulated randomness (default 1)."), QStringLiteral("n"));
    const QCommandLineOption tokens(QStringLiteral("tokens"), QStringLiteral("Directory where boxes keep their tokens between runs (default: memory only)."), QStringLiteral("dir"));
    const QCommandLineOption window(QStringLiteral("telemetry-window"), QStringLiteral("Telemetry samples a box keeps in flight, unacknowledged (default 8; MQTT's in-flight window)."), QStringLiteral("n"));
    const QCommandLineOption transport(QStringLiteral("transport"), QStringLiteral("epoll (default: every ws:// box in one epoll set, cheap enough for load tests) or qt (one QWebSocket a box, as on a real box; wss:// always)."), QStringLiteral("kind"));
    QCommandLineOption child(QStringLiteral("child"), QStringLiteral("Internal: run as a child of a --processes parent."));
    child.setFlags(QCommandLineOption::HiddenFromHelp);
    p.addOptions({help, version, server, spread, boxes, first, prefix, rate, telemetry, failPercent, installMode, processes, duration,
                  storm, stormAfter, exitOnline, json, quiet, reboot, backoffBase, backoffCap, heartbeat, swVersion,
                  channel, seed, tokens, window, transport, child});
    if (!p.parse(arguments)) {
        *error = p.errorText();
        return false;
    }
    if (p.isSet(help)) {
        *out = iptv::cli::helpText(p, QStringLiteral("fleetsim"));
        return false;
    }
    if (p.isSet(version)) {
        *out = QCoreApplication::applicationName() + QLatin1Char(' ') + QCoreApplication::applicationVersion() + QLatin1Char('\n');
        return false;
    }
    if (!p.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument \"%1\"").arg(p.positionalArguments().first());
        return false;
    }

    bool ok = true;
    const auto number = [&](const QCommandLineOption &opt, double lo, double hi, double fallback) {
        if (!ok || !p.isSet(opt))
            return fallback;
        bool good = false;
        const double v = p.value(opt).toDouble(&good);
        if (!good || v < lo || v > hi) {
            *error = QStringLiteral("--%1: \"%2\" is not a number in [%3, %4]")
                         .arg(opt.names().constLast(), p.value(opt)).arg(lo).arg(hi);
            ok = false;
            return fallback;
        }
        return v;
    };
    FleetConfig &f = o->fleet;
    if (p.isSet(tokens))
        f.tokenDir = p.value(tokens);
    if (p.isSet(server)) {
        const QStringList urls = p.value(server).split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (const QString &text : urls) {
            const QUrl url(text.trimmed());
            if (!url.isValid() || (url.scheme() != QLatin1String("ws") && url.scheme() != QLatin1String("wss"))) {
                *error = QStringLiteral("--server: \"%1\" is not a ws:// or wss:// URL").arg(text);
                return false;
            }
            if (&text == &urls.first())
                f.server = url;
            else
                f.moreServers.append(url);
        }
    }
    if (p.isSet(spread)) {
        bool good = false;
        const int n = p.value(spread).toInt(&good);
        if (!good || n < 1 || n > 254 || f.server.host() != QLatin1String("127.0.0.1")) {
            *error = QStringLiteral("--loopback-spread: needs a number in [1, 254] and a ws://127.0.0.1 server");
            return false;
        }
        for (int i = 2; i <= n; ++i) {
            QUrl url = f.server;
            url.setHost(QStringLiteral("127.0.0.%1").arg(i));
            f.moreServers.append(url);
        }
    }
    f.boxes = int(number(boxes, 1, 1e7, f.boxes));
    f.first = int(number(first, 0, 1e9, f.first));
    if (p.isSet(prefix))
        f.serialPrefix = p.value(prefix);
    f.connectRate = number(rate, 0, 1e7, 0);
    f.telemetryInterval = number(telemetry, 0, 86400, 0);
    f.telemetryWindow = int(number(window, 1, 1024, f.telemetryWindow));
    f.installFailPercent = int(number(failPercent, 0, 100, 0));
    if (p.isSet(installMode)) {
        f.installMode = p.value(installMode);
        if (f.installMode != QLatin1String("sim") && f.installMode != QLatin1String("download")) {
            *error = QStringLiteral("--install-mode: \"%1\" is neither sim nor download").arg(f.installMode);
            return false;
        }
    }
    if (p.isSet(transport)) {
        f.transport = p.value(transport);
        if (f.transport != QLatin1String("epoll") && f.transport != QLatin1String("qt")) {
            *error = QStringLiteral("--transport: \"%1\" is neither epoll nor qt").arg(f.transport);
            return false;
        }
    }
    o->processes = int(number(processes, 1, 256, 1));
    o->durationSeconds = number(duration, 0, 1e7, 0);
    o->storm = p.isSet(storm);
    o->stormAfterSeconds = number(stormAfter, 0, 1e6, 2);
    o->exitWhenOnline = p.isSet(exitOnline);
    o->json = p.isSet(json);
    o->quiet = p.isSet(quiet);
    o->child = p.isSet(child);
    f.rebootDelayMs = int(number(reboot, 0, 3.6e6, f.rebootDelayMs));
    f.backoffBaseMs = int(number(backoffBase, 1, 3.6e6, f.backoffBaseMs));
    f.backoffCapMs = int(number(backoffCap, 1, 3.6e6, f.backoffCapMs));
    f.heartbeatMs = int(number(heartbeat, 0, 3600, 0) * 1000);
    if (p.isSet(swVersion))
        f.softwareVersion = p.value(swVersion);
    if (p.isSet(channel))
        f.releaseChannel = p.value(channel);
    f.seed = quint64(number(seed, 0, 1e15, 1));
    if (ok && o->processes > f.boxes) {
        *error = QStringLiteral("--processes %1 is more than --boxes %2").arg(o->processes).arg(f.boxes);
        ok = false;
    }
    return ok;
}

QStringList childArguments(const RunOptions &o, int first, int boxes, int)
{
    const FleetConfig &f = o.fleet;
    QStringList servers{f.server.toString()};
    for (const QUrl &url : f.moreServers)
        servers.append(url.toString());
    QStringList a{QStringLiteral("--child"),
                  QStringLiteral("--server"), servers.join(QLatin1Char(',')),
                  QStringLiteral("--boxes"), QString::number(boxes),
                  QStringLiteral("--first"), QString::number(first),
                  QStringLiteral("--serial-prefix"), f.serialPrefix,
                  QStringLiteral("--install-fail-percent"), QString::number(f.installFailPercent),
                  QStringLiteral("--install-mode"), f.installMode,
                  QStringLiteral("--reboot-delay"), QString::number(f.rebootDelayMs),
                  QStringLiteral("--backoff-base"), QString::number(f.backoffBaseMs),
                  QStringLiteral("--backoff-cap"), QString::number(f.backoffCapMs),
                  QStringLiteral("--software-version"), f.softwareVersion,
                  QStringLiteral("--release-channel"), f.releaseChannel,
                  QStringLiteral("--transport"), f.transport,
                  QStringLiteral("--telemetry-window"), QString::number(f.telemetryWindow),
                  // The same seed in every child: a box's secret and randomness follow from the seed
                  // and its serial, so it is the same box whatever --processes splits it into.
                  QStringLiteral("--seed"), QString::number(f.seed)};
    if (f.connectRate > 0)
        a << QStringLiteral("--connect-rate") << QString::number(f.connectRate / o.processes, 'g', 10);
    if (f.telemetryInterval > 0)
        a << QStringLiteral("--telemetry-interval") << QString::number(f.telemetryInterval, 'g', 10);
    if (f.heartbeatMs > 0)
        a << QStringLiteral("--heartbeat") << QString::number(f.heartbeatMs / 1000.0, 'g', 10);
    if (!f.tokenDir.isEmpty())
        a << QStringLiteral("--tokens") << f.tokenDir;
    return a;
}

// ---- child

int runChild(const RunOptions &options)
{
    Fleet fleet(options.fleet);
    FILE *out = stdout;
    const auto emitSnapshot = [&fleet, out](bool final) {
        QJsonObject o = fleet.snapshot().toJson();
        if (final)
            o.insert(QStringLiteral("final"), true);
        const QByteArray line = QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
        fwrite(line.constData(), 1, size_t(line.size()), out);
        fflush(out);
    };
    bool stopping = false;
    QTimer tick;
    const auto stop = [&] {
        if (stopping)
            return;
        stopping = true;
        tick.stop();
        emitSnapshot(true);
        fleet.stop();
        QCoreApplication::exit(0);
    };
    QObject::connect(&tick, &QTimer::timeout, [&] { emitSnapshot(false); });
    tick.start(250);
    // The parent speaks one word a line on our stdin; its end means the parent is gone.
    QSocketNotifier input(STDIN_FILENO, QSocketNotifier::Read);
    QByteArray pending;
    QObject::connect(&input, &QSocketNotifier::activated, [&] {
        char buffer[256];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            input.setEnabled(false);
            stop();
            return;
        }
        pending.append(buffer, n);
        qsizetype nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
            const QByteArray word = pending.left(nl).trimmed();
            pending.remove(0, nl + 1);
            if (word == "storm")
                fleet.storm();
            else if (word == "stop")
                stop();
        }
    });
    SignalWatcher *signals = quitOnTermination([&] { stop(); });
    Q_UNUSED(signals);
    fleet.start();
    return QCoreApplication::exec();
}

// ---- parent / single process

FleetRunner::FleetRunner(RunOptions options, QTextStream &out, QTextStream &err, QObject *parent)
    : QObject(parent), m_options(std::move(options)), m_out(out), m_err(err)
{
    m_tick.setInterval(1000);
    connect(&m_tick, &QTimer::timeout, this, &FleetRunner::tick);
}

FleetRunner::~FleetRunner()
{
    for (Child &c : m_children) {
        if (c.process && c.process->state() != QProcess::NotRunning) {
            c.process->kill();
            c.process->waitForFinished(2000);
        }
    }
}

void FleetRunner::start()
{
    m_clock.start();
    m_startEpochMs = epochMs();
    if (m_options.processes <= 1) {
        m_fleet = std::make_unique<Fleet>(m_options.fleet);
        m_fleet->start();
    } else {
        const int k = m_options.processes;
        const int total = m_options.fleet.boxes;
        int first = m_options.fleet.first;
        m_children.resize(size_t(k));
        for (int i = 0; i < k; ++i) {
            const int share = total / k + (i < total % k ? 1 : 0);
            Child &c = m_children[size_t(i)];
            c.last.boxes = share;
            c.last.stopped = share;
            c.process = std::make_unique<QProcess>();
            c.process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
            // Own process group: Ctrl-C reaches the parent only, which then collects every child's
            // final counters ("stop" on stdin); a parent that dies closes their stdin, which stops them.
            c.process->setChildProcessModifier([] { ::setpgid(0, 0); });
            Child *cp = &c;
            connect(c.process.get(), &QProcess::readyReadStandardOutput, this, [this, cp] { readChild(*cp); });
            connect(c.process.get(), &QProcess::finished, this, [this, cp](int code, QProcess::ExitStatus status) {
                readChild(*cp);
                if (!cp->final) {
                    m_err << "fleetsim: a child ended early (" << (status == QProcess::CrashExit ? "crash" : "exit ")
                          << code << ")\n";
                    m_err.flush();
                    cp->final = true;
                }
                complete();
            });
            c.process->start(m_options.childProgram.isEmpty() ? QCoreApplication::applicationFilePath() : m_options.childProgram,
                             childArguments(m_options, first, share, i));
            first += share;
        }
    }
    m_previousAt = 0;
    m_tick.start();
}

void FleetRunner::readChild(Child &child)
{
    child.buffer.append(child.process->readAllStandardOutput());
    qsizetype nl;
    while ((nl = child.buffer.indexOf('\n')) >= 0) {
        const QByteArray line = child.buffer.left(nl);
        child.buffer.remove(0, nl + 1);
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (o.isEmpty() || child.final) // nothing after the final counters counts
            continue;
        child.last = FleetSnapshot::fromJson(o);
        if (o.value(QLatin1String("final")).toBool())
            child.final = true;
    }
}

FleetSnapshot FleetRunner::snapshot() const
{
    if (m_fleet)
        return m_fleet->snapshot();
    FleetSnapshot merged;
    bool firstChild = true;
    for (const Child &c : m_children) {
        if (firstChild) {
            merged = c.last;
            firstChild = false;
        } else {
            merged.merge(c.last);
        }
    }
    return merged;
}

void FleetRunner::tick()
{
    const FleetSnapshot s = snapshot();
    const double t = elapsed();
    if (t > m_previousAt) {
        const double acked = double(s.totals.telemetryAcked - m_previous.totals.telemetryAcked) / (t - m_previousAt);
        m_peakAckedPerSecond = std::max(m_peakAckedPerSecond, acked);
    }
    if (!m_options.quiet)
        printProgress(s);
    m_previous = s;
    m_previousAt = t;

    if (!m_allOnlineSeen && s.allOnlineAtMs >= 0) {
        m_allOnlineSeen = true;
        m_allOnlineSeenAt = t;
        m_atAllOnline = s;
    }
    if (m_options.storm && m_allOnlineSeen && !m_stormIssued && t - m_allOnlineSeenAt >= m_options.stormAfterSeconds) {
        m_stormIssued = true;
        if (!m_options.quiet) {
            m_err << "fleetsim: storm: dropping every connection\n";
            m_err.flush();
        }
        if (m_fleet) {
            m_fleet->storm();
        } else {
            for (Child &c : m_children)
                c.process->write("storm\n");
        }
    }
    if (m_stormIssued && m_stormRecoveredSeenAt < 0 && s.stormRecoveredAtMs >= 0)
        m_stormRecoveredSeenAt = t;

    const bool durationOver = m_options.durationSeconds > 0 && t >= m_options.durationSeconds;
    const bool onlineDone = m_options.exitWhenOnline && m_allOnlineSeen && !m_options.storm;
    const bool stormDone = m_options.storm && m_options.durationSeconds <= 0 && m_stormRecoveredSeenAt >= 0
                           && t - m_stormRecoveredSeenAt >= 1.0;
    if (durationOver || onlineDone || stormDone)
        finish();
}

void FleetRunner::finish()
{
    if (m_finishing)
        return;
    m_finishing = true;
    m_tick.stop();
    if (m_fleet) {
        complete();
        return;
    }
    for (Child &c : m_children) {
        if (c.process->state() == QProcess::Running)
            c.process->write("stop\n");
        else
            c.final = true;
    }
    // Children answer with their final line; one that hangs is killed, and its last line counts.
    QTimer::singleShot(15000, this, [this] {
        for (Child &c : m_children) {
            if (!c.final) {
                m_err << "fleetsim: a child did not stop in time; killed\n";
                c.final = true;
                c.process->kill();
            }
        }
        complete();
    });
    complete();
}

void FleetRunner::complete()
{
    if (!m_finishing || m_done)
        return;
    for (const Child &c : m_children) {
        if (!c.final)
            return;
    }
    m_done = true;
    const FleetSnapshot s = snapshot();
    if (m_fleet)
        m_fleet->stop();
    m_report = buildReport(s);
    printReport(m_report);
    Q_EMIT finished(s.online == s.boxes || m_options.durationSeconds > 0 || m_allOnlineSeen ? 0 : 1);
}

void FleetRunner::printProgress(const FleetSnapshot &s)
{
    const double t = elapsed();
    const double dt = t - m_previousAt;
    const double sent = dt > 0 ? double(s.totals.telemetrySent - m_previous.totals.telemetrySent) / dt : 0;
    const double acked = dt > 0 ? double(s.totals.telemetryAcked - m_previous.totals.telemetryAcked) / dt : 0;
    m_err << QStringLiteral("[%1 s] online %2/%3  pending %4  connecting %5  waiting %6 | telemetry %7/s acked %8/s | "
                            "sessions %9  server errors %10\n")
                 .arg(t, 0, 'f', 1)
                 .arg(s.online)
                 .arg(s.boxes)
                 .arg(s.pending)
                 .arg(s.connecting)
                 .arg(s.disconnected + s.stopped)
                 .arg(sent, 0, 'f', 0)
                 .arg(acked, 0, 'f', 0)
                 .arg(s.totals.sessions)
                 .arg(s.totals.errorsReceived);
    m_err.flush();
}

QJsonObject FleetRunner::buildReport(const FleetSnapshot &s) const
{
    const double t = elapsed();
    QJsonObject r;
    r.insert(QStringLiteral("server"), m_options.fleet.server.toString());
    r.insert(QStringLiteral("boxes"), s.boxes);
    r.insert(QStringLiteral("processes"), m_options.processes);
    r.insert(QStringLiteral("seconds"), t);
    r.insert(QStringLiteral("online"), s.online);
    r.insert(QStringLiteral("pending"), s.pending);
    r.insert(QStringLiteral("allOnlineSeconds"),
             s.allOnlineAtMs >= 0 ? QJsonValue(double(s.allOnlineAtMs - m_startEpochMs) / 1000.0) : QJsonValue());
    r.insert(QStringLiteral("connectToOnline"), percentiles(s.connectToOnline));

    // Throughput over the steady window (from all online to the end), else over the whole run.
    const FleetSnapshot &from = m_allOnlineSeen ? m_atAllOnline : FleetSnapshot();
    const double window = m_allOnlineSeen ? t - m_allOnlineSeenAt : t;
    QJsonObject tel;
    tel.insert(QStringLiteral("sent"), double(s.totals.telemetrySent));
    tel.insert(QStringLiteral("acked"), double(s.totals.telemetryAcked));
    tel.insert(QStringLiteral("dropped"), double(s.totals.telemetryDropped));
    tel.insert(QStringLiteral("resent"), double(s.totals.telemetryResent));
    tel.insert(QStringLiteral("windowSeconds"), window);
    tel.insert(QStringLiteral("sentPerSecond"),
               window > 0 ? double(s.totals.telemetrySent - from.totals.telemetrySent) / window : 0.0);
    tel.insert(QStringLiteral("ackedPerSecond"),
               window > 0 ? double(s.totals.telemetryAcked - from.totals.telemetryAcked) / window : 0.0);
    tel.insert(QStringLiteral("peakAckedPerSecond"), m_peakAckedPerSecond);
    tel.insert(QStringLiteral("ackRtt"), percentiles(s.telemetryRtt));
    r.insert(QStringLiteral("telemetry"), tel);

    QJsonObject cmd;
    cmd.insert(QStringLiteral("received"), double(s.totals.commandsReceived));
    cmd.insert(QStringLiteral("duplicates"), double(s.totals.commandsDuplicate));
    cmd.insert(QStringLiteral("expired"), double(s.totals.commandsExpired));
    cmd.insert(QStringLiteral("results"), double(s.totals.resultsSent));
    cmd.insert(QStringLiteral("handling"), percentiles(s.commandHandling));
    r.insert(QStringLiteral("commands"), cmd);

    QJsonObject con;
    con.insert(QStringLiteral("connectAttempts"), double(s.totals.connectAttempts));
    con.insert(QStringLiteral("sessions"), double(s.totals.sessions));
    con.insert(QStringLiteral("reconnects"), double(s.totals.sessions > quint64(s.boxes) ? s.totals.sessions - quint64(s.boxes) : 0));
    con.insert(QStringLiteral("serverErrors"), double(s.totals.errorsReceived));
    con.insert(QStringLiteral("deadConnections"), double(s.totals.deadConnections));
    con.insert(QStringLiteral("reenrollments"), double(s.totals.reenrollments));
    r.insert(QStringLiteral("connections"), con);

    if (m_stormIssued) {
        r.insert(QStringLiteral("stormRecoverySeconds"),
                 s.stormRecoveredAtMs >= 0 && s.stormAtMs >= 0 ? QJsonValue(double(s.stormRecoveredAtMs - s.stormAtMs) / 1000.0)
                                                               : QJsonValue());
    }
    r.insert(QStringLiteral("installsOk"), double(s.installsOk));
    r.insert(QStringLiteral("installsFailed"), double(s.installsFailed));

    // Client memory per box: measured at the moment all were online (every socket open).
    const FleetSnapshot &mem = m_allOnlineSeen ? m_atAllOnline : s;
    r.insert(QStringLiteral("rssKb"), double(mem.rssKb));
    r.insert(QStringLiteral("baselineRssKb"), double(mem.baselineRssKb));
    r.insert(QStringLiteral("clientKbPerBox"), mem.boxes > 0 ? double(mem.rssKb - mem.baselineRssKb) / mem.boxes : 0.0);
    return r;
}

void FleetRunner::printReport(const QJsonObject &r)
{
    if (m_options.json) {
        m_out << QJsonDocument(r).toJson(QJsonDocument::Indented);
        m_out.flush();
        return;
    }
    const auto obj = [&r](const char *key) { return r.value(QLatin1String(key)).toObject(); };
    const auto num = [](const QJsonObject &o, const char *key) { return o.value(QLatin1String(key)).toDouble(); };
    const QJsonObject tel = obj("telemetry"), cmd = obj("commands"), con = obj("connections"), c2o = obj("connectToOnline");
    const QJsonObject rtt = tel.value(QLatin1String("ackRtt")).toObject(), hnd = cmd.value(QLatin1String("handling")).toObject();
    m_out << QStringLiteral("fleetsim: %1 boxes in %2 process(es) against %3, %4 s\n")
                 .arg(r.value(QLatin1String("boxes")).toInt())
                 .arg(r.value(QLatin1String("processes")).toInt())
                 .arg(r.value(QLatin1String("server")).toString())
                 .arg(r.value(QLatin1String("seconds")).toDouble(), 0, 'f', 1);
    const QJsonValue allOnline = r.value(QLatin1String("allOnlineSeconds"));
    m_out << QStringLiteral("  all online        %1 (connect to welcome p50 %2 ms, p99 %3 ms); now online %4, pending %5\n")
                 .arg(allOnline.isDouble() ? QStringLiteral("after %1 s").arg(allOnline.toDouble(), 0, 'f', 2) : QStringLiteral("never"))
                 .arg(ms(num(c2o, "p50Ms")), ms(num(c2o, "p99Ms")))
                 .arg(r.value(QLatin1String("online")).toInt())
                 .arg(r.value(QLatin1String("pending")).toInt());
    m_out << QStringLiteral("  telemetry         sent %1/s, acked %2/s over %3 s (peak %4/s); ack round trip p50 %5 ms, p99 %6 ms; "
                            "%7 dropped unacked, %8 resent\n")
                 .arg(num(tel, "sentPerSecond"), 0, 'f', 0)
                 .arg(num(tel, "ackedPerSecond"), 0, 'f', 0)
                 .arg(num(tel, "windowSeconds"), 0, 'f', 1)
                 .arg(num(tel, "peakAckedPerSecond"), 0, 'f', 0)
                 .arg(ms(num(rtt, "p50Ms")), ms(num(rtt, "p99Ms")))
                 .arg(num(tel, "dropped"))
                 .arg(num(tel, "resent"));
    m_out << QStringLiteral("  commands          %1 received (%2 redelivered, %3 expired), %4 results; box-side handling "
                            "(command frame in -> result written) p50 %5 ms, p99 %6 ms\n")
                 .arg(num(cmd, "received"))
                 .arg(num(cmd, "duplicates"))
                 .arg(num(cmd, "expired"))
                 .arg(num(cmd, "results"))
                 .arg(ms(num(hnd, "p50Ms")), ms(num(hnd, "p99Ms")));
    m_out << QStringLiteral("  connections       %1 attempts, %2 sessions (%3 reconnects), %4 server errors, %5 dead, %6 re-enrolled\n")
                 .arg(num(con, "connectAttempts"))
                 .arg(num(con, "sessions"))
                 .arg(num(con, "reconnects"))
                 .arg(num(con, "serverErrors"))
                 .arg(num(con, "deadConnections"))
                 .arg(num(con, "reenrollments"));
    if (r.contains(QLatin1String("stormRecoverySeconds"))) {
        const QJsonValue v = r.value(QLatin1String("stormRecoverySeconds"));
        m_out << QStringLiteral("  storm             all dropped at once; %1\n")
                     .arg(v.isDouble() ? QStringLiteral("all back after %1 s").arg(v.toDouble(), 0, 'f', 2)
                                       : QStringLiteral("not all back"));
    }
    if (num(r, "installsOk") + num(r, "installsFailed") > 0)
        m_out << QStringLiteral("  installs          %1 ok, %2 failed\n").arg(num(r, "installsOk")).arg(num(r, "installsFailed"));
    m_out << QStringLiteral("  client memory     %1 MB resident, %2 KB per box (baseline %3 MB)\n")
                 .arg(num(r, "rssKb") / 1024, 0, 'f', 1)
                 .arg(num(r, "clientKbPerBox"), 0, 'f', 1)
                 .arg(num(r, "baselineRssKb") / 1024, 0, 'f', 1);
    m_out.flush();
}

} // namespace iptv::fleetsim
