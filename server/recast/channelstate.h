#pragma once

#include <QString>

namespace iptv::recast {

/// starting: opening the source the first time; live: the source plays; degraded: it plays but
/// something is wrong (segments not written, frames repaired); reconnecting: the source is lost
/// and a slate or a discontinuity bridges it; failed: the channel cannot run as configured
/// (no encoder, a codec pass-through cannot carry); stopped: by the operator.
enum class ChannelState { Starting, Live, Degraded, Reconnecting, Failed, Stopped };

inline QString stateName(ChannelState s)
{
    switch (s) {
    case ChannelState::Starting: return QStringLiteral("starting");
    case ChannelState::Live: return QStringLiteral("live");
    case ChannelState::Degraded: return QStringLiteral("degraded");
    case ChannelState::Reconnecting: return QStringLiteral("reconnecting");
    case ChannelState::Failed: return QStringLiteral("failed");
    case ChannelState::Stopped: return QStringLiteral("stopped");
    }
    return {};
}

} // namespace iptv::recast
