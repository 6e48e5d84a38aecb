#include "keyframecache.h"

#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcKeyframeCache, "iptv.media.keyframecache", QtInfoMsg)

namespace iptv::media {

KeyframeCache::KeyframeCache(qint64 byteBudget)
    : m_budget(std::max<qint64>(0, byteBudget))
{
}

void KeyframeCache::setHeader(const QByteArray &patPmt)
{
    m_header = patPmt;
    if (!m_gop.isEmpty() && bytes() > m_budget)
        drop();
}

void KeyframeCache::append(const QByteArray &ts, bool keyframe, QList<QByteArray> *released)
{
    if (keyframe) {
        ++m_gops;
        if (released)
            released->append(std::move(m_gop));
        m_gop.clear();
        m_gopBytes = 0;
    } else if (m_gop.isEmpty()) {
        return; // no keyframe to start from: useless to a new viewer
    }
    if (bytes() + ts.size() > m_budget) {
        drop(released);
        return;
    }
    m_gop.append(ts);
    m_gopBytes += ts.size();
}

void KeyframeCache::drop(QList<QByteArray> *released)
{
    if (released)
        released->append(std::move(m_gop));
    // Also a keyframe chunk alone over the budget: its GOP is dropped before it started.
    ++m_gopsDropped;
    qCDebug(lcKeyframeCache) << "GOP over the budget of" << m_budget << "bytes: dropped until the next keyframe";
    m_gop.clear();
    m_gopBytes = 0;
}

QByteArray KeyframeCache::snapshot() const
{
    if (m_gop.isEmpty())
        return {};
    QByteArray out;
    out.reserve(bytes());
    out += m_header;
    for (const QByteArray &chunk : m_gop)
        out += chunk;
    return out;
}

QList<QByteArray> KeyframeCache::snapshotChunks() const
{
    if (m_gop.isEmpty())
        return {};
    QList<QByteArray> out;
    out.reserve(m_gop.size() + 1);
    if (!m_header.isEmpty())
        out.append(m_header);
    out += m_gop;
    return out;
}

} // namespace iptv::media
