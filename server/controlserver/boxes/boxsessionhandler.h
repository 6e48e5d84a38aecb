#pragma once

// What the box gateway (boxgateway.h) hands on: the few calls it makes into whoever decides what a
// box's messages mean (ControlServer in app/). The gateway owns framing, admission, the replay
// check and timeouts; the handler owns enrollment, telemetry, events, commands and results.

#include <protocol/message.h>

#include <QByteArray>

namespace iptv::control {

struct BoxSession;

class BoxSessionHandler
{
public:
    virtual ~BoxSessionHandler() = default;

    /// The session's hello (a decision is due: welcome, pending, or an error that closes it).
    virtual void handleHello(BoxSession *session, const iptv::protocol::Message &message) = 0;
    /// Any other decoded message of a session past its hello (events, acks, results, ...).
    virtual void handleBoxMessage(BoxSession *session, const iptv::protocol::Message &message) = 0;
    /// A telemetry sample read straight from the frame, `frame` the message as it came (stored as it is).
    virtual void handleTelemetry(BoxSession *session, quint64 messageId, const iptv::protocol::Telemetry &telemetry,
                                 const QByteArray &frame) = 0;
    /// The session ended; it is freed after this event-loop turn.
    virtual void handleBoxGone(BoxSession *session) = 0;
};

} // namespace iptv::control
