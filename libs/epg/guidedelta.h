#pragma once

// Guide deltas: how a box that holds guide version A catches up to version B cheaply.
// A delta is B's body compressed by zstd with A's body as the reference prefix
// (zstd's "patch-from"), so only what changed travels. Applying it gives B's body, which is
// what a guide's identity (its checksum, the HTTP ETag) is computed over.

#include "guidelimits.h"

#include <QByteArray>
#include <QString>

namespace iptv::epg::GuideDelta {

/// Makes the delta that turns guide file `from` into guide file `to`. Empty on error.
QByteArray make(const QByteArray &fromGuideFile, const QByteArray &toGuideFile, QString *error = nullptr);

/// Applies a delta to guide file `from`; returns a guide file whose body and checksum equal
/// those of the `to` file the delta was made for (its compression may differ). Empty on error,
/// e.g. when the delta was made against another base or its new header claims sizes beyond
/// `limits` (checked, with the header's CRC, before anything is allocated for it).
QByteArray apply(const QByteArray &fromGuideFile, const QByteArray &delta, QString *error = nullptr,
                 const GuideLimits &limits = {});

} // namespace iptv::epg::GuideDelta
