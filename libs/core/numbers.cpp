#include "numbers.h"

namespace iptv {

bool parseIntInRange(const QString &what, QStringView text, int min, int max, int *out, QString *error)
{
    bool ok = false;
    const int v = text.trimmed().toInt(&ok);
    if (!ok || v < min || v > max) {
        QString shown = text.left(40).toString();
        if (text.size() > 40)
            shown += u"...";
        *error = QStringLiteral("%1: expected a number from %2 to %3, got \"%4\"").arg(what).arg(min).arg(max).arg(shown);
        return false;
    }
    *out = v;
    return true;
}

} // namespace iptv
