#pragma once

// The release channel of a box and of a release, shared by the fleet (fleet.h) and the release
// store (releasestore.h) so one server can include both.

#include <QtGlobal>

namespace iptv::control {

enum class ReleaseChannel : quint8 { Clean, Experimental };

} // namespace iptv::control
