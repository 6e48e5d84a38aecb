#pragma once

// Small HTTP helpers shared by the servers; independent of the HTTP server library so that
// clients and tests can use them too.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringView>

#include <optional>

namespace iptv::http {

/// An error for an HTTP answer, typed where it arises: the status comes from here, never from
/// the detail's text. Its body is jsonError(code, detail).
struct ApiError
{
    int status = 500;
    QString code;   ///< short and stable, for programs: "not-found", "conflict", "unknown-channel"
    QString detail; ///< for people: what, where, why

    static ApiError badRequest(const QString &detail) { return {400, QStringLiteral("bad-request"), detail}; }
    static ApiError unauthorized(const QString &detail) { return {401, QStringLiteral("unauthorized"), detail}; }
    static ApiError forbidden(const QString &detail) { return {403, QStringLiteral("forbidden"), detail}; }
    static ApiError notFound(const QString &detail) { return {404, QStringLiteral("not-found"), detail}; }
    static ApiError conflict(const QString &detail) { return {409, QStringLiteral("conflict"), detail}; }
    static ApiError internal(const QString &detail) { return {500, QStringLiteral("internal"), detail}; }
};

/// The JSON error body every server answers with: {"error":"...","detail":"..."}.
QByteArray jsonError(const QString &error, const QString &detail = {});

/// Quotes an entity tag: abc -> "abc".
QByteArray quotedEtag(const QByteArray &tag);

/// True when an If-None-Match header value matches the entity tag (weak comparison, as
/// RFC 9110 requires for If-None-Match: W/ prefixes are ignored; "*" matches anything).
bool etagMatches(const QByteArray &ifNoneMatch, const QByteArray &tag);

/// Parses a time given in a query: UTC epoch seconds ("1767225600") or ISO 8601 with a zone
/// ("2026-01-01T06:00:00Z", "2026-01-01T08:00:00+02:00"); an ISO time without zone is UTC.
std::optional<qint64> parseTime(QStringView text);

/// ISO 8601 UTC with a Z, second precision.
QString isoUtc(qint64 epochSeconds);

/// RFC 9110 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for Last-Modified/Date headers.
QByteArray httpDate(qint64 epochSeconds);

/// Parses an HTTP date (If-Modified-Since, Last-Modified): IMF-fixdate and the obsolete RFC 850
/// and asctime forms (RFC 9110 5.6.7); nullopt for anything else, which a server then ignores.
std::optional<qint64> parseHttpDate(QByteArrayView text);

/// "1", "true", "yes", "on" (any case) are true.
bool parseBool(QStringView text);

/// What a Range header asks of a representation of `size` bytes (RFC 9110 14.1.2, 14.2): one
/// byte range ("bytes=first-last", "bytes=first-", "bytes=-suffix"; the unit in any case) is a
/// Part, clipped to the representation, or Unsatisfiable when it starts at or beyond its end (a
/// suffix of 0 bytes, anything of an empty one): 416 with "Content-Range: bytes */size". Anything
/// else is Whole, the header ignored as RFC 9110 allows: no header, another unit, a syntax
/// error, last before first, or several ranges (one is what players ask; a multipart answer is
/// not worth its cost). Numbers of any length: one past qint64 is beyond any file.
struct ByteRange
{
    enum Kind { Whole, Part, Unsatisfiable };
    Kind kind = Whole;
    qint64 first = 0, last = 0; ///< Part: the bytes, both included
};
ByteRange byteRange(QByteArrayView header, qint64 size);

} // namespace iptv::http
