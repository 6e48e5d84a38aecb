#include "manifest.h"

#include "version.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTimeZone>

#include <cmath>

namespace iptv::payload {

namespace {

constexpr qsizetype kMaxPathBytes = 1024;
constexpr qsizetype kMaxPathDepth = 64;
// Sizes travel as JSON numbers (doubles): stay where every integer is exact.
constexpr double kMaxJsonInteger = 9007199254740992.0; // 2^53

PayloadStatus bad(const QString &message)
{
    return PayloadStatus::failure(PayloadError::BadManifest, u"MANIFEST.json"_qs, message);
}

bool isLowerHex(const QString &s)
{
    for (QChar c : s) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f')))
            return false;
    }
    return true;
}

} // namespace

QString channelName(Channel channel)
{
    return channel == Channel::Experimental ? u"experimental"_qs : u"clean"_qs;
}

std::optional<Channel> channelFromName(QStringView name)
{
    if (name == u"clean")
        return Channel::Clean;
    if (name == u"experimental")
        return Channel::Experimental;
    return std::nullopt;
}

QString payloadPathProblem(QStringView path, PayloadError *error)
{
    const auto fail = [error](PayloadError code, const QString &why) {
        if (error)
            *error = code;
        return why;
    };
    if (path.isEmpty())
        return fail(PayloadError::PathTraversal, u"empty path"_qs);
    if (path.startsWith(u'/'))
        return fail(PayloadError::PathTraversal, u"absolute path"_qs);
    if (path.contains(u'\\'))
        return fail(PayloadError::PathTraversal, u"backslash in path"_qs);
    for (QChar c : path) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return fail(PayloadError::UnsupportedEntry, u"control character in path"_qs);
        if (c.isSurrogate() && !c.isHighSurrogate() && !c.isLowSurrogate())
            return fail(PayloadError::UnsupportedEntry, u"invalid character in path"_qs);
    }
    if (path.toUtf8().size() > kMaxPathBytes)
        return fail(PayloadError::UnsupportedEntry, u"path longer than %1 bytes"_qs.arg(kMaxPathBytes));
    const QList<QStringView> parts = path.split(u'/');
    if (parts.size() > kMaxPathDepth)
        return fail(PayloadError::UnsupportedEntry, u"path deeper than %1 levels"_qs.arg(kMaxPathDepth));
    for (QStringView part : parts) {
        if (part == u"..")
            return fail(PayloadError::PathTraversal, u"'..' component"_qs);
        if (part == u".")
            return fail(PayloadError::PathTraversal, u"'.' component (path not normalised)"_qs);
        if (part.isEmpty())
            return fail(PayloadError::PathTraversal, u"empty component (path not normalised)"_qs);
    }
    if (error)
        *error = PayloadError::None;
    return {};
}

QJsonObject Manifest::toJsonObject() const
{
    QJsonArray list;
    for (const ManifestFile &f : files) {
        list.append(QJsonObject{
            {u"path"_qs, f.path},
            {u"size"_qs, double(f.size)},
            {u"sha256"_qs, QString::fromLatin1(f.sha256.toHex())},
            {u"executable"_qs, f.executable},
        });
    }
    QJsonObject o{
        {u"format"_qs, format},
        {u"version"_qs, version},
        {u"channel"_qs, channelName(channel)},
        {u"minBoxVersion"_qs, minBoxVersion},
        {u"created"_qs, created.toUTC().toString(Qt::ISODate)},
        {u"keyId"_qs, keyId},
        {u"files"_qs, list},
        {u"totalSize"_qs, double(totalSize)},
    };
    if (!notes.isEmpty())
        o.insert(u"notes"_qs, notes);
    return o;
}

QByteArray Manifest::toJson() const
{
    // QJsonObject keeps its keys sorted, so the same manifest always gives the same bytes.
    return QJsonDocument(toJsonObject()).toJson(QJsonDocument::Indented);
}

const ManifestFile *Manifest::file(const QString &path) const
{
    // Files are sorted by path (parse() checks it), so a binary search finds one.
    const auto it = std::lower_bound(files.cbegin(), files.cend(), path,
                                     [](const ManifestFile &f, const QString &p) { return f.path < p; });
    return it != files.cend() && it->path == path ? &*it : nullptr;
}

std::optional<Manifest> Manifest::parse(const QByteArray &json, PayloadStatus *status)
{
    const auto fail = [status](PayloadStatus s) -> std::optional<Manifest> {
        if (status)
            *status = std::move(s);
        return std::nullopt;
    };
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return fail(bad(u"not JSON: %1 at byte %2"_qs.arg(parseError.errorString()).arg(parseError.offset)));
    if (!doc.isObject())
        return fail(bad(u"not a JSON object"_qs));
    const QJsonObject o = doc.object();

    Manifest m;
    const QJsonValue format = o.value(u"format"_qs);
    if (!format.isDouble() || format.toDouble() != std::floor(format.toDouble()))
        return fail(bad(u"'format' missing or not an integer"_qs));
    m.format = format.toInt();
    if (m.format != CurrentFormat)
        return fail(bad(u"format %1 is not supported (this reader knows format %2)"_qs.arg(m.format).arg(CurrentFormat)));

    const auto text = [&o](const QString &key, QString *out) {
        const QJsonValue v = o.value(key);
        if (!v.isString())
            return false;
        *out = v.toString();
        return true;
    };
    if (!text(u"version"_qs, &m.version) || !isValidVersion(m.version))
        return fail(bad(u"'version' missing or not a version (e.g. 1.4.0)"_qs));
    if (!text(u"minBoxVersion"_qs, &m.minBoxVersion) || !isValidVersion(m.minBoxVersion))
        return fail(bad(u"'minBoxVersion' missing or not a version (e.g. 1.0.0)"_qs));
    QString channel;
    if (!text(u"channel"_qs, &channel) || !channelFromName(channel))
        return fail(bad(u"'channel' must be \"clean\" or \"experimental\""_qs));
    m.channel = *channelFromName(channel);
    QString created;
    if (!text(u"created"_qs, &created))
        return fail(bad(u"'created' missing"_qs));
    m.created = QDateTime::fromString(created, Qt::ISODate);
    if (!m.created.isValid())
        return fail(bad(u"'created' is not an ISO 8601 time: %1"_qs.arg(created)));
    m.created = m.created.toUTC();
    if (!text(u"keyId"_qs, &m.keyId) || m.keyId.size() != 16 || !isLowerHex(m.keyId))
        return fail(bad(u"'keyId' missing or not 16 lower-case hex digits"_qs));
    if (o.contains(u"notes"_qs) && !text(u"notes"_qs, &m.notes))
        return fail(bad(u"'notes' is not a string"_qs));

    const QJsonValue files = o.value(u"files"_qs);
    if (!files.isArray())
        return fail(bad(u"'files' missing or not an array"_qs));
    const QJsonArray list = files.toArray();
    m.files.reserve(list.size());
    double total = 0;
    QSet<QString> directories; // every proper prefix of a file path
    for (qsizetype i = 0; i < list.size(); ++i) {
        const QJsonObject f = list.at(i).toObject();
        ManifestFile file;
        const QJsonValue path = f.value(u"path"_qs);
        const QJsonValue size = f.value(u"size"_qs);
        const QJsonValue sha = f.value(u"sha256"_qs);
        const QJsonValue exec = f.value(u"executable"_qs);
        const QString where = u"files[%1]"_qs.arg(i);
        if (!path.isString())
            return fail(bad(where + u": 'path' missing"_qs));
        file.path = path.toString();
        PayloadError code = PayloadError::None;
        const QString problem = payloadPathProblem(file.path, &code);
        if (!problem.isEmpty()) {
            return fail(PayloadStatus::failure(code == PayloadError::PathTraversal ? PayloadError::PathTraversal
                                                                                   : PayloadError::BadManifest,
                                               u"MANIFEST.json"_qs,
                                               u"%1: path '%2': %3"_qs.arg(where, file.path, problem)));
        }
        if (!size.isDouble() || size.toDouble() < 0 || size.toDouble() != std::floor(size.toDouble())
            || size.toDouble() >= kMaxJsonInteger)
            return fail(bad(where + u": 'size' missing or not a non-negative integer"_qs));
        file.size = qint64(size.toDouble());
        const QString hex = sha.toString();
        if (!sha.isString() || hex.size() != 64 || !isLowerHex(hex))
            return fail(bad(where + u": 'sha256' missing or not 64 lower-case hex digits"_qs));
        file.sha256 = QByteArray::fromHex(hex.toLatin1());
        if (!exec.isUndefined() && !exec.isBool())
            return fail(bad(where + u": 'executable' is not a boolean"_qs));
        file.executable = exec.toBool(false);
        if (!m.files.isEmpty() && !(m.files.constLast().path < file.path)) {
            return fail(bad(m.files.constLast().path == file.path
                                ? u"%1: '%2' is listed twice"_qs.arg(where, file.path)
                                : u"%1: files are not sorted by path ('%2' after '%3')"_qs.arg(
                                    where, file.path, m.files.constLast().path)));
        }
        total += double(file.size);
        qsizetype slash = file.path.indexOf(u'/');
        while (slash >= 0) {
            directories.insert(file.path.left(slash));
            slash = file.path.indexOf(u'/', slash + 1);
        }
        m.files.append(std::move(file));
    }
    for (const ManifestFile &f : std::as_const(m.files)) {
        if (directories.contains(f.path))
            return fail(bad(u"'%1' is both a file and a directory"_qs.arg(f.path)));
    }
    const QJsonValue totalSize = o.value(u"totalSize"_qs);
    if (!totalSize.isDouble() || totalSize.toDouble() != total)
        return fail(bad(u"'totalSize' missing or not the sum of the file sizes (%1)"_qs.arg(qint64(total))));
    m.totalSize = qint64(total);
    if (status)
        *status = {};
    return m;
}

} // namespace iptv::payload
