#include "zapper.h"

#include <QLoggingCategory>

#include <chrono>

Q_LOGGING_CATEGORY(lcZapper, "iptv.hubris.zapper", QtInfoMsg)

namespace iptv::hubris {

namespace {
qint64 steadyNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int msBetween(qint64 fromNs, qint64 toNs)
{
    return int(qBound<qint64>(0, (toNs - fromNs) / 1'000'000, qint64(INT_MAX)));
}
} // namespace

Zapper::Zapper(ChannelListModel *channels, hal::Player *player, QObject *parent)
    : QObject(parent), m_channels(channels), m_player(player)
{
    connect(player, &hal::Player::firstFrame, this, [this](qint64) {
        if (!m_measuring)
            return;
        m_measuring = false;
        m_lastZapMs = m_sinceKey.elapsed();
        m_zapTimes.append(m_lastZapMs);
        if (m_zapTimes.size() > 100)
            m_zapTimes.removeFirst();
        qCDebug(lcZapper) << "zap in" << m_lastZapMs << "ms";
        // The parts, all from the key: the player's are from its play().
        const hal::StartTiming &t = m_player->startTiming();
        const int tune = t.requestedAtNs > 0 ? msBetween(m_keyNs, t.requestedAtNs) : -1;
        const auto after = [tune](qint64 ms) { return tune >= 0 && ms >= 0 ? int(qMin<qint64>(tune + ms, INT_MAX)) : -1; };
        m_parts = {};
        m_parts.tuneMs = tune;
        m_parts.connectedMs = after(t.connectedMs);
        m_parts.openedMs = after(t.openedMs);
        m_parts.keyframeMs = after(t.firstKeyframeMs);
        m_parts.decodedMs = after(t.firstDecodedMs);
        m_parts.shownMs = int(qMin<qint64>(m_lastZapMs, INT_MAX));
        m_partsPending = true;
        m_paintSyncNs = 0;
        m_paintAfterNs = steadyNs();
        m_paintTimeout.start();
        Q_EMIT zapMeasured(m_lastZapMs);
    });
    m_paintTimeout.setSingleShot(true);
    m_paintTimeout.setInterval(2000);
    connect(&m_paintTimeout, &QTimer::timeout, this, [this] { finishParts(-1); }); // no window, or it does not paint
    connect(player, &hal::Player::errorOccurred, this, [this](const QString &message) {
        m_measuring = false;
        // The one player also plays recordings and catch-up (DvrPlayback): their failures are
        // not this channel's, and the playback page says them.
        if (m_current >= 0
            && m_player->source() != QUrl(m_channels->data(m_channels->index(m_current), ChannelListModel::StreamRole).toString()))
            return;
        const QString name = m_current >= 0
                                 ? m_channels->data(m_channels->index(m_current), ChannelListModel::NameRole).toString()
                                 : QString();
        Q_EMIT playbackFailed(name.isEmpty() ? message : tr("%1 is not available: %2").arg(name, message));
    });
    // A new guide may reorder the lineup: stay on the same channel id.
    connect(channels, &QAbstractItemModel::modelReset, this, [this] {
        if (m_current >= m_channels->rowCount())
            m_current = m_channels->rowCount() > 0 ? 0 : -1;
        if (m_previous >= m_channels->rowCount())
            m_previous = -1;
        Q_EMIT currentChanged();
    });
}

void Zapper::frameStarted()
{
    const qint64 after = m_paintAfterNs.load(std::memory_order_acquire);
    if (after <= 0)
        return;
    const qint64 now = steadyNs();
    if (now > after)
        m_paintSyncNs.store(now, std::memory_order_release);
}

void Zapper::frameSwapped()
{
    if (m_paintSyncNs.load(std::memory_order_acquire) <= 0)
        return;
    const qint64 now = steadyNs();
    m_paintSyncNs = 0;
    m_paintAfterNs = 0;
    QMetaObject::invokeMethod(this, [this, now] { finishParts(now); }, Qt::QueuedConnection);
}

void Zapper::finishParts(qint64 paintedNs)
{
    if (!m_partsPending)
        return;
    m_partsPending = false;
    m_paintTimeout.stop();
    m_paintAfterNs = 0;
    m_paintSyncNs = 0;
    if (paintedNs > 0)
        m_parts.paintedMs = msBetween(m_keyNs, paintedNs);
    m_zapParts.append(m_parts);
    if (m_zapParts.size() > 100)
        m_zapParts.removeFirst();
    qCDebug(lcZapper) << "zap parts: tune" << m_parts.tuneMs << "connected" << m_parts.connectedMs << "opened"
                      << m_parts.openedMs << "keyframe" << m_parts.keyframeMs << "decoded" << m_parts.decodedMs << "shown"
                      << m_parts.shownMs << "painted" << m_parts.paintedMs;
    Q_EMIT zapPartsMeasured(m_parts);
}

void Zapper::tune(int row)
{
    if (row < 0 || row >= m_channels->rowCount())
        return;
    finishParts(-1); // a zap still waiting for its paint is over: another key came
    m_sinceKey.start();
    m_keyNs = steadyNs();
    m_measuring = true;
    if (row != m_current) {
        m_previous = m_current;
        m_current = row;
        Q_EMIT currentChanged();
    }
    if (m_locked && m_locked(row)) {
        // A locked channel: no picture, no sound until the PIN is entered (the UI asks for it).
        m_measuring = false;
        m_player->stop();
        setBlocked(true);
        return;
    }
    setBlocked(false);
    const QString stream = m_channels->data(m_channels->index(row), ChannelListModel::StreamRole).toString();
    if (stream.isEmpty()) {
        m_measuring = false;
        m_player->stop();
        Q_EMIT playbackFailed(tr("%1 has no stream in the lineup")
                                  .arg(m_channels->data(m_channels->index(row), ChannelListModel::NameRole).toString()));
        return;
    }
    m_player->play(QUrl(stream));
}

void Zapper::adopt(int row)
{
    if (row < 0 || row >= m_channels->rowCount())
        return;
    const QUrl stream(m_channels->data(m_channels->index(row), ChannelListModel::StreamRole).toString());
    const bool running = m_player->state() == hal::Player::State::Opening || m_player->state() == hal::Player::State::Playing;
    if (!running || stream.isEmpty() || m_player->source() != stream || (m_locked && m_locked(row))) {
        tune(row);
        return;
    }
    qCDebug(lcZapper) << "channel" << row << "already plays" << stream;
    if (row != m_current) {
        m_previous = m_current;
        m_current = row;
        Q_EMIT currentChanged();
    }
    setBlocked(false);
}

void Zapper::retune()
{
    if (m_current >= 0)
        tune(m_current);
}

void Zapper::recheck()
{
    if (m_current < 0)
        return;
    const bool locked = m_locked && m_locked(m_current);
    if (locked && !m_blocked) {
        m_player->stop();
        setBlocked(true);
    } else if (!locked && m_blocked) {
        tune(m_current);
    }
}

void Zapper::setBlocked(bool blocked)
{
    if (blocked == m_blocked)
        return;
    m_blocked = blocked;
    Q_EMIT blockedChanged();
}

void Zapper::channelUp()
{
    const int n = m_channels->rowCount();
    if (n > 0)
        tune(m_current < 0 ? 0 : (m_current + 1) % n);
}

void Zapper::channelDown()
{
    const int n = m_channels->rowCount();
    if (n > 0)
        tune(m_current <= 0 ? n - 1 : m_current - 1);
}

void Zapper::previousChannel()
{
    if (m_previous >= 0)
        tune(m_previous);
}

} // namespace iptv::hubris
