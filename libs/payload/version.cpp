#include "version.h"

#include <QList>

#include <optional>

namespace iptv::payload {

namespace {

struct ParsedVersion
{
    QList<quint64> numbers;
    QList<QStringView> preRelease; ///< dot-separated identifiers; empty for a release
};

bool isDigits(QStringView s)
{
    if (s.isEmpty())
        return false;
    for (QChar c : s) {
        if (c < u'0' || c > u'9')
            return false;
    }
    return true;
}

bool isIdentifier(QStringView s)
{
    if (s.isEmpty())
        return false;
    for (QChar c : s) {
        const bool ok = (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'-';
        if (!ok)
            return false;
    }
    return true;
}

std::optional<ParsedVersion> parse(QStringView text)
{
    if (text.isEmpty() || text.size() > 128)
        return std::nullopt;
    // Build metadata never takes part in the order; it only has to be well formed.
    const qsizetype plus = text.indexOf(u'+');
    if (plus >= 0) {
        for (QStringView id : text.mid(plus + 1).split(u'.')) {
            if (!isIdentifier(id))
                return std::nullopt;
        }
        text = text.left(plus);
    }
    ParsedVersion v;
    const qsizetype dash = text.indexOf(u'-');
    if (dash >= 0) {
        for (QStringView id : text.mid(dash + 1).split(u'.')) {
            if (!isIdentifier(id))
                return std::nullopt;
            v.preRelease.append(id);
        }
        text = text.left(dash);
    }
    const QList<QStringView> parts = text.split(u'.');
    if (parts.size() > 4)
        return std::nullopt;
    for (QStringView part : parts) {
        // 18 digits fit a quint64; longer numbers are not versions anyone means.
        if (!isDigits(part) || part.size() > 18)
            return std::nullopt;
        v.numbers.append(part.toULongLong());
    }
    return v;
}

int compareIdentifiers(QStringView a, QStringView b)
{
    const bool an = isDigits(a);
    const bool bn = isDigits(b);
    if (an && bn) {
        // Compare digit strings by length first so that arbitrarily long numbers order correctly.
        while (a.size() > 1 && a.front() == u'0')
            a = a.mid(1);
        while (b.size() > 1 && b.front() == u'0')
            b = b.mid(1);
        if (a.size() != b.size())
            return a.size() < b.size() ? -1 : 1;
        return a.compare(b);
    }
    if (an != bn)
        return an ? -1 : 1; // semver: numeric identifiers sort below alphanumeric ones
    return a.compare(b);
}

} // namespace

bool isValidVersion(QStringView version)
{
    return parse(version).has_value();
}

int compareVersions(QStringView a, QStringView b)
{
    const std::optional<ParsedVersion> va = parse(a);
    const std::optional<ParsedVersion> vb = parse(b);
    if (!va || !vb)
        return int(va.has_value()) - int(vb.has_value());
    const qsizetype n = qMax(va->numbers.size(), vb->numbers.size());
    for (qsizetype i = 0; i < n; ++i) {
        const quint64 x = va->numbers.value(i, 0);
        const quint64 y = vb->numbers.value(i, 0);
        if (x != y)
            return x < y ? -1 : 1;
    }
    const bool aPre = !va->preRelease.isEmpty();
    const bool bPre = !vb->preRelease.isEmpty();
    if (aPre != bPre)
        return aPre ? -1 : 1;
    const qsizetype m = qMin(va->preRelease.size(), vb->preRelease.size());
    for (qsizetype i = 0; i < m; ++i) {
        const int c = compareIdentifiers(va->preRelease.at(i), vb->preRelease.at(i));
        if (c != 0)
            return c < 0 ? -1 : 1;
    }
    if (va->preRelease.size() != vb->preRelease.size())
        return va->preRelease.size() < vb->preRelease.size() ? -1 : 1;
    return 0;
}

} // namespace iptv::payload
