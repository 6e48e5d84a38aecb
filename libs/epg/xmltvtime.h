#pragma once

// XMLTV timestamps: "YYYYMMDDhhmmss +hhmm" and the shorter or zone-less forms seen in the wild.

#include <QString>
#include <QStringView>
#include <QTimeZone>
#include <QtGlobal>

namespace iptv::epg {

/// Parses an XMLTV timestamp "YYYYMMDDhhmmss +hhmm" (also shorter forms YYYYMMDDhhmm, YYYYMMDDhh, YYYYMMDD,
/// offset forms "+hhmm", "-hhmm", "+hh:mm", "+hh", "Z", "UTC"/"GMT", and a few named zones like "EST").
/// No offset => local time in defaultZone (DST handled with QTimeZone; a nonexistent local time (spring gap)
/// moves forward, an ambiguous one (autumn fold) takes the first occurrence).
/// On success sets *utcSeconds (seconds since the epoch) and *offsetSeconds (the offset the text was in),
/// and *zoneGiven: whether the text carried its offset (false: it was read in defaultZone).
bool parseXmltvTime(QStringView text, const QTimeZone &defaultZone, qint64 *utcSeconds, int *offsetSeconds,
                    QString *error = nullptr, bool *zoneGiven = nullptr);

/// Formats a UTC instant as local time at the given offset: "20260822160000 +0100".
QString formatXmltvTime(qint64 utcSeconds, int offsetSeconds);

} // namespace iptv::epg
