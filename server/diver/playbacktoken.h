#pragma once

// Playback tokens: what a box's player shows instead of its identity ticket. A ticket lasts an
// hour and the box renews it, but a player keeps the URL it was given: a film started late in a
// ticket's life, a recording watched while it records or a timeshift (EVENT playlists, reloaded)
// would be refused mid-playback. diver gives the box playback URLs with a token of their own,
// signed with a secret the cluster's nodes share (HMAC-SHA256), scoped to one viewer and one
// resource (a recording, or a channel's catch-up from a given second), valid for the content's
// length plus a margin. A token opens that resource's playlist and segments only, within what a
// ticket opens there (the viewer's recording; the catch-up window): nothing else of the API.
//
// Text form: pt1.<owner>.<resource>.<expires>.<signature>, owner and resource base64url, expires
// Unix seconds, the signature base64url HMAC-SHA256 over everything before it.

#include <QByteArray>
#include <QString>

#include <optional>

namespace iptv::diver {

struct PlaybackGrant
{
    QString owner;    ///< the viewer (a box's serial) whose resource it is
    QString resource; ///< "recording/<id>" or "archive/<channel>/<from, Unix seconds>"
    qint64 expires = 0;
};

class PlaybackTokens
{
public:
    /// The cluster's secret (at least 16 bytes): [server] playback_secret, or the database's.
    void setSecret(const QByteArray &secret) { m_secret = secret; }
    bool hasSecret() const { return !m_secret.isEmpty(); }

    QByteArray issue(const PlaybackGrant &grant) const;
    /// The grant of `token` at `now`, or nullopt with *error (malformed, forged, expired).
    std::optional<PlaybackGrant> verify(QByteArrayView token, qint64 now, QString *error) const;

    static QString recordingResource(qint64 id) { return QStringLiteral("recording/%1").arg(id); }
    static QString archiveResource(const QString &channel, qint64 from) { return QStringLiteral("archive/%1/%2").arg(channel).arg(from); }
    /// Of an archive resource: its channel and first second; nullopt for another kind.
    static std::optional<std::pair<QString, qint64>> parseArchiveResource(const QString &resource);

private:
    QByteArray signatureOf(QByteArrayView signedPart) const;

    QByteArray m_secret;
};

} // namespace iptv::diver
