#include "backoff.h"

#include <QRandomGenerator>

#include <algorithm>

namespace iptv {

Backoff::Backoff(int baseMs, int capMs)
    : m_baseMs(std::max(1, baseMs)), m_capMs(std::max(m_baseMs, capMs)),
      m_state(QRandomGenerator::global()->generate64())
{
}

Backoff::Backoff(int baseMs, int capMs, quint64 seed)
    : m_baseMs(std::max(1, baseMs)), m_capMs(std::max(m_baseMs, capMs)), m_state(seed)
{
}

qint64 Backoff::windowFor(int baseMs, int capMs, int attempt)
{
    qint64 window = std::max(1, baseMs);
    const qint64 cap = std::max<qint64>(window, capMs);
    // Doubling stops at the cap, so the loop runs at most ~31 times whatever the attempt count.
    for (int i = 0; i < attempt && window < cap; ++i)
        window *= 2;
    return std::min(window, cap);
}

qint64 Backoff::uniform(qint64 upTo)
{
    if (upTo <= 0)
        return 0;
    m_state += 0x9e3779b97f4a7c15ULL;
    quint64 z = m_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    // The modulo bias is below 2^-40 for windows under a day: irrelevant for spreading reconnects.
    return qint64(z % (quint64(upTo) + 1));
}

qint64 Backoff::next()
{
    const qint64 delay = uniform(window());
    if (m_attempt < 64)
        ++m_attempt;
    return delay;
}

qint64 Backoff::nextAfter(qint64 retryAfterMs)
{
    if (retryAfterMs <= 0)
        return next();
    const qint64 delay = retryAfterMs + uniform(retryAfterMs);
    if (m_attempt < 64)
        ++m_attempt;
    return delay;
}

} // namespace iptv
