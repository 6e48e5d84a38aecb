#pragma once

// Reading numbers people typed (config files, command-line flags, HTTP query parameters) with one
// check and one message form, so every program refuses "abc" or "99999" the same way.

#include <QString>
#include <QStringView>

namespace iptv {

/// Parses `text` (surrounding spaces allowed) as a decimal integer in [min, max] into *out; else
/// *error is "what: expected a number from min to max, got "text"", `what` being an INI key, a
/// --flag or a query parameter, and `text` cut to 40 characters.
bool parseIntInRange(const QString &what, QStringView text, int min, int max, int *out, QString *error);

} // namespace iptv
