#include "releasechannel.h"

namespace iptv::control {

QString releaseChannelName(ReleaseChannel c)
{
    return c == ReleaseChannel::Experimental ? QStringLiteral("experimental") : QStringLiteral("clean");
}

std::optional<ReleaseChannel> releaseChannelFromName(QStringView name)
{
    if (name == u"clean")
        return ReleaseChannel::Clean;
    if (name == u"experimental")
        return ReleaseChannel::Experimental;
    return std::nullopt;
}

} // namespace iptv::control
