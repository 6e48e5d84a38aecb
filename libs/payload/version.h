#pragma once

#include <QString>
#include <QStringView>

namespace iptv::payload {

/// True for "MAJOR[.MINOR[.PATCH[.BUILD]]]" with an optional semver pre-release ("-rc.1") and
/// build metadata ("+git.abc"), e.g. "1.10.0", "2.0.0-beta.2", "1.4".
bool isValidVersion(QStringView version);

/// Compares two versions the semver way: numeric parts as numbers ("1.10.0" > "1.9.2"), missing
/// parts as 0 ("1.4" == "1.4.0"), a pre-release below its release ("1.0.0-rc.1" < "1.0.0"),
/// build metadata ignored. Returns <0, 0 or >0. An invalid version sorts below every valid one.
int compareVersions(QStringView a, QStringView b);

} // namespace iptv::payload
