#pragma once

// Who is asking: a box, by the identity ticket the control server signed for it
// (protocol/boxticket.h), or an operator, by diver's admin token (or from loopback when none is
// set). diver keeps no accounts: the keys come from files or from the control server's
// GET /api/ticket-key, fetched at start and again every hour, and at once (at most every 10 s)
// when a ticket names a key diver does not hold: a key change reaches diver with the first
// ticket signed by the new key. Until the first fetch succeeds, boxes are told to retry.

#include <payload/keys.h>

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <optional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
QT_END_NAMESPACE

namespace iptv::diver {

struct Identity
{
    bool isOperator = false;
    QString owner;  ///< a box: its serial (whose recordings); an operator: empty (everyone's)
    qint64 expiresAt = 0; ///< a box: when its ticket expires (UTC seconds); 0: no end
};

class BoxAuth : public QObject
{
    Q_OBJECT
public:
    explicit BoxAuth(QObject *parent = nullptr);

    /// Trusts the keys in these files (iptv-ed25519-public:…); false with *error naming the file.
    bool loadKeyFiles(const QStringList &paths, QString *error);
    /// Fetches the key from the control server now and every `refreshMs`; while diver has no key,
    /// a failed fetch is tried again after `retryMs` (one retry at a time, whatever the ticks),
    /// and a ticket with a key diver does not hold fetches again, at most every `retryMs`.
    void fetchFrom(const QUrl &controlServer, int refreshMs = 3600 * 1000, int retryMs = 10000);
    void addKey(const payload::PublicKey &key);
    bool hasKeys() const { return !m_keys.isEmpty(); }

    /// A box's identity from its ticket at `now` (UTC seconds), or nullopt with *error.
    std::optional<Identity> verifyTicket(QByteArrayView ticket, qint64 now, QString *error) const;
    /// Whether `credential` has a ticket's shape (<claims>.<signature>, base64url both), so that
    /// a credential of another shape is told as a wrong admin token, not as a broken ticket.
    static bool looksLikeTicket(QByteArrayView credential);

Q_SIGNALS:
    void keysChanged();

private:
    void fetch();
    /// A ticket names a key diver does not hold (or diver holds none): the control server may
    /// have changed its key. Fetches now unless a fetch runs or ran less than a retry ago.
    void keyMissing();

    QList<payload::PublicKey> m_fileKeys;
    QList<payload::PublicKey> m_keys;
    QUrl m_controlServer;
    QTimer m_timer;
    QTimer m_retry;             ///< the one retry while diver has no key
    QElapsedTimer m_lastKeyMissing; ///< since a ticket's unknown key last made diver fetch
    bool m_fetching = false;
    QNetworkAccessManager *m_network = nullptr;
};

} // namespace iptv::diver
