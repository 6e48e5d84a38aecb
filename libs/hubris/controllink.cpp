#include "controllink.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDateTime>
#include <QFile>
#include <QLoggingCategory>
#include <QMutex>
#include <QNetworkInterface>
#include <QSysInfo>

#include <algorithm>
#include <deque>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcLink, "iptv.hubris.link", QtInfoMsg)

namespace iptv::hubris {

namespace {

struct LogRing
{
    QMutex mutex;
    std::deque<QString> lines;
    int capacity = 2000;
    QtMessageHandler previous = nullptr;
};
LogRing &logRing()
{
    static LogRing ring;
    return ring;
}

void logHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    LogRing &ring = logRing();
    {
        QMutexLocker lock(&ring.mutex);
        static const char *levels[] = {"debug", "warning", "critical", "fatal", "info"};
        ring.lines.push_back(QStringLiteral("%1 %2 %3: %4")
                                 .arg(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs),
                                      QLatin1String(levels[qBound(0, int(type), 4)]),
                                      QLatin1String(context.category ? context.category : "default"), message));
        while (int(ring.lines.size()) > ring.capacity)
            ring.lines.pop_front();
    }
    if (ring.previous)
        ring.previous(type, context, message);
}

} // namespace

void ControlLink::installLogRing(int lines)
{
    LogRing &ring = logRing();
    ring.capacity = lines;
    if (!ring.previous)
        ring.previous = qInstallMessageHandler(logHandler);
}

QStringList ControlLink::recentLogs(int lines)
{
    LogRing &ring = logRing();
    QMutexLocker lock(&ring.mutex);
    QStringList out;
    const int from = qMax(0, int(ring.lines.size()) - lines);
    for (int i = from; i < int(ring.lines.size()); ++i)
        out << ring.lines[size_t(i)];
    return out;
}

QString ControlLink::defaultSerial()
{
    // The machine id is stable and private; its hash names the box without revealing it.
    QByteArray id = QSysInfo::machineUniqueId();
    if (id.isEmpty())
        id = QSysInfo::machineHostName().toUtf8();
    return QStringLiteral("SIM-") + QString::fromLatin1(QCryptographicHash::hash(id, QCryptographicHash::Sha256).toHex().left(10)).toUpper();
}

ControlLink::ControlLink(ControlLinkConfig config, hal::Hal *hal, Zapper *zapper, ChannelListModel *channels, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_hal(hal), m_zapper(zapper), m_channels(channels)
{
    m_uptime.start();
    m_store = std::make_unique<boxlink::FileCredentialStore>(m_config.stateDir);
    boxlink::BoxLinkConfig c;
    c.serverUrl = m_config.serverUrl;
    c.serial = m_config.serial.isEmpty() ? defaultSerial() : m_config.serial;
    for (const QNetworkInterface &i : QNetworkInterface::allInterfaces()) {
        if (!(i.flags() & QNetworkInterface::IsLoopBack) && !i.hardwareAddress().isEmpty()) {
            c.mac = i.hardwareAddress();
            break;
        }
    }
    c.model = m_config.model;
    c.softwareVersion = m_config.softwareVersion;
    m_link = std::make_unique<boxlink::BoxLink>(c, m_store.get());
    m_link->setTelemetrySource(this);
    m_link->setCommandHandler(this);
    connect(m_link.get(), &boxlink::BoxLink::stateChanged, this, [this](boxlink::BoxLink::State state) {
        // Reached: online, or waiting for the operator's approval.
        if (state == boxlink::BoxLink::State::Online || state == boxlink::BoxLink::State::Pending)
            m_unreachable = false;
        Q_EMIT onlineChanged();
    });
    connect(m_link.get(), &boxlink::BoxLink::disconnected, this, [this](const QString &reason) {
        if (m_link->state() != boxlink::BoxLink::State::Stopped && !m_unreachable) {
            qCInfo(lcLink).noquote() << "control server unreachable:" << reason;
            m_unreachable = true;
            Q_EMIT onlineChanged();
        }
    });
    connect(zapper, &Zapper::zapMeasured, this, [this](qint64 ms) { m_zapsSinceSample.append(int(qMin<qint64>(ms, 60000))); });
    connect(zapper, &Zapper::zapPartsMeasured, this, [this](const protocol::ZapParts &parts) {
        if (m_zapPartsSinceSample.size() < protocol::Telemetry::kMaxZapParts)
            m_zapPartsSinceSample.append(parts);
    });
    connect(zapper, &Zapper::playbackFailed, this, [this](const QString &message) {
        ++m_errorsSinceSample;
        protocol::BoxEvent event;
        event.time = QDateTime::currentDateTimeUtc();
        event.kind = QStringLiteral("error");
        event.severity = QStringLiteral("warning");
        event.text = message;
        m_link->sendEvent(event);
    });
}

ControlLink::~ControlLink()
{
    m_link->stop();
}

void ControlLink::start()
{
    qCInfo(lcLink).noquote() << "control server" << m_config.serverUrl.toString() << "as" << m_link->config().serial;
    m_link->start();
}

bool ControlLink::isOnline() const
{
    return m_link->isOnline();
}

QString ControlLink::serial() const
{
    return m_link->config().serial;
}

QString ControlLink::boxId() const
{
    return m_link->boxId();
}

protocol::Telemetry ControlLink::sample()
{
    protocol::Telemetry t;
    t.time = QDateTime::currentDateTimeUtc();
    t.softwareVersion = m_config.softwareVersion;
    t.uptimeSeconds = m_uptime.elapsed() / 1000;
    t.memoryUsedKb = Diagnostics::residentKb();
    t.memoryTotalKb = Diagnostics::procValueKb(QStringLiteral("/proc/meminfo"), "MemTotal:");
    // CPU: this process's ticks since the previous sample, as a share of one core.
    QFile stat(QStringLiteral("/proc/self/stat"));
    if (stat.open(QIODevice::ReadOnly)) {
        const QByteArray text = stat.readAll();
        const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 13) {
            const qint64 ticks = fields[11].toLongLong() + fields[12].toLongLong();
            if (m_lastCpuTicks >= 0 && m_sinceCpu.isValid() && m_sinceCpu.elapsed() > 0)
                t.cpuPercent = 100.0 * (ticks - m_lastCpuTicks) / double(sysconf(_SC_CLK_TCK)) / (m_sinceCpu.elapsed() / 1000.0);
            m_lastCpuTicks = ticks;
            m_sinceCpu.start();
        }
    }
    if (m_zapper->current() >= 0)
        t.currentChannel = m_channels->data(m_channels->index(m_zapper->current()), ChannelListModel::IdRole).toString();
    switch (m_hal->player()->state()) {
    case hal::Player::State::Playing: t.playerState = QStringLiteral("playing"); break;
    case hal::Player::State::Opening: t.playerState = QStringLiteral("buffering"); break;
    case hal::Player::State::Failed: t.playerState = QStringLiteral("error"); break;
    case hal::Player::State::Stopped: t.playerState = QStringLiteral("stopped"); break;
    }
    t.zapTimesMs = std::exchange(m_zapsSinceSample, {});
    t.zapParts = std::exchange(m_zapPartsSinceSample, {});
    t.errorEvents = std::exchange(m_errorsSinceSample, 0);
    if (m_diagnostics && m_diagnostics->isAvailable())
        t.frameStats = m_diagnostics->takeFrameStats();
    return t;
}

void ControlLink::execute(const protocol::Command &command, const boxlink::CommandReply &reply)
{
    using protocol::CommandKind;
    switch (command.kind) {
    case CommandKind::ShowMessage: {
        const QString text = command.args.value(QLatin1String("text")).toString();
        if (text.isEmpty()) {
            reply.fail(QStringLiteral("message: no \"text\" argument"));
            return;
        }
        Q_EMIT messageReceived(text, int(std::clamp<qint64>(command.args.value(QLatin1String("seconds")).toInteger(10), 0, 3600)));
        reply.succeed(QStringLiteral("shown"));
        return;
    }
    case CommandKind::Tune: {
        // A lineup number, a channel id or a channel name.
        const QCborValue arg = command.args.value(QLatin1String("channel"));
        const QString wanted = arg.isInteger() ? QString::number(arg.toInteger()) : arg.toString();
        int row = -1;
        bool isNumber = false;
        const int number = wanted.toInt(&isNumber);
        if (isNumber)
            row = m_channels->rowOfNumber(number);
        for (int r = 0; row < 0 && r < m_channels->rowCount(); ++r) {
            const QModelIndex i = m_channels->index(r);
            if (m_channels->data(i, ChannelListModel::IdRole).toString() == wanted
                || m_channels->data(i, ChannelListModel::NameRole).toString().compare(wanted, Qt::CaseInsensitive) == 0)
                row = r;
        }
        if (row < 0) {
            reply.fail(QStringLiteral("tune: no channel \"%1\" in this box's lineup").arg(wanted));
            return;
        }
        m_zapper->tune(row);
        reply.succeed(QStringLiteral("tuned to %1").arg(m_channels->data(m_channels->index(row), ChannelListModel::NameRole).toString()));
        return;
    }
    case CommandKind::Screenshot: {
        const QImage image = m_screenshot ? m_screenshot() : QImage();
        if (image.isNull()) {
            reply.fail(QStringLiteral("screenshot: nothing is shown"));
            return;
        }
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        image.save(&buffer, "PNG");
        reply.succeed(QStringLiteral("%1x%2").arg(image.width()).arg(image.height()), png, QStringLiteral("image/png"));
        return;
    }
    case CommandKind::CollectLogs: {
        const int lines = int(std::clamp<qint64>(command.args.value(QLatin1String("lines")).toInteger(200), 1, 5000));
        const QStringList logs = recentLogs(lines);
        reply.succeed(QStringLiteral("%1 lines").arg(logs.size()), logs.join(u'\n').toUtf8(), QStringLiteral("text/plain"));
        return;
    }
    case CommandKind::SetConfig: {
        QStringList applied, ignored;
        for (auto it = command.args.constBegin(); it != command.args.constEnd(); ++it) {
            const QString key = it.key().toString();
            if (key == QLatin1String("volume") && it.value().isInteger()) {
                m_hal->setVolume(int(it.value().toInteger()));
                applied << key;
            } else if (key == QLatin1String("muted") && it.value().isBool()) {
                m_hal->setMuted(it.value().toBool());
                applied << key;
            } else {
                ignored << key;
            }
        }
        const QString text = QStringLiteral("applied %1").arg(applied.isEmpty() ? QStringLiteral("nothing") : applied.join(u", "))
                             + (ignored.isEmpty() ? QString() : QStringLiteral("; unknown here: %1").arg(ignored.join(u", ")));
        if (applied.isEmpty() && !ignored.isEmpty())
            reply.fail(text);
        else
            reply.succeed(text);
        return;
    }
    case CommandKind::Reboot:
        reply.succeed(QStringLiteral("restarting"));
        Q_EMIT rebootRequested();
        return;
    case CommandKind::FactoryReset:
        reply.succeed(QStringLiteral("settings cleared; restarting"));
        Q_EMIT factoryResetRequested();
        return;
    case CommandKind::InstallRelease:
        if (!m_installer) {
            reply.fail(QStringLiteral("install-release: this box has no trusted release key configured"));
            return;
        }
        m_installer->execute(command, reply);
        return;
    case CommandKind::Unknown:
        break;
    }
    reply.fail(QStringLiteral("unknown command"));
}

} // namespace iptv::hubris
