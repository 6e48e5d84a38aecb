#pragma once

// Reconnect delays: exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"; USP's WebSocket retry uses the same idea). After a power cut every box of a
// fleet reconnects at once; drawing each delay uniformly from [0, min(cap, base * 2^attempt)]
// spreads them over the whole window instead of moving the herd in lockstep.

#include <QtGlobal>

namespace iptv {

class Backoff
{
public:
    /// `baseMs`: the first window; `capMs`: the largest window. A seed makes the sequence
    /// reproducible (tests); without one each box seeds from the system's generator.
    Backoff(int baseMs = 1000, int capMs = 60000);
    Backoff(int baseMs, int capMs, quint64 seed);

    /// The window of the next attempt, without jitter: min(cap, base * 2^attempt).
    qint64 window() const { return windowFor(m_attempt); }
    /// The delay before the next attempt, uniform in [0, window()], and counts the attempt.
    qint64 next();
    /// The delay when the server asked to come back after `retryAfterMs`: never earlier, spread
    /// over [retryAfter, 2 * retryAfter] so the boxes it turned away do not return together.
    /// Also counts an attempt, so repeated refusals grow the ordinary window too.
    qint64 nextAfter(qint64 retryAfterMs);
    /// After a stable session: the next failure starts from the base window again.
    void reset() { m_attempt = 0; }

    int attempt() const { return m_attempt; }
    int baseMs() const { return m_baseMs; }
    int capMs() const { return m_capMs; }

    /// min(cap, base * 2^attempt) without overflow for any attempt.
    static qint64 windowFor(int baseMs, int capMs, int attempt);

private:
    qint64 windowFor(int attempt) const { return windowFor(m_baseMs, m_capMs, attempt); }
    qint64 uniform(qint64 upTo); // [0, upTo]

    int m_baseMs;
    int m_capMs;
    int m_attempt = 0;
    // splitmix64: 8 bytes of state instead of QRandomGenerator's 2.5 KB Mersenne twister, which
    // matters with thousands of simulated boxes in one process.
    quint64 m_state;
};

} // namespace iptv
