#pragma once

// The release channel of a box and of a release, shared by the fleet (boxes/fleet.h) and the
// release store (store/releasestore.h).

#include <QString>
#include <QStringView>

#include <optional>

namespace iptv::control {

enum class ReleaseChannel : quint8 { Clean, Experimental };

QString releaseChannelName(ReleaseChannel c);
std::optional<ReleaseChannel> releaseChannelFromName(QStringView name);

} // namespace iptv::control
