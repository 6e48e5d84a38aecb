#pragma once

// Who is asking: a box, by the identity ticket the control server signed for it
// (protocol/boxticket.h), or an operator, by diver's admin token (or from loopback when none is
// set). diver keeps no accounts: the keys come from files or from the control server's
// GET /api/ticket-key, fetched at start and again every hour (a key change reaches diver without
// a restart; until the first fetch succeeds, boxes are told to retry).

#include <payload/keys.h>

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
    /// Fetches the key from the control server now and every `refreshMs`.
    void fetchFrom(const QUrl &controlServer, int refreshMs = 3600 * 1000);
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

    QList<payload::PublicKey> m_fileKeys;
    QList<payload::PublicKey> m_keys;
    QUrl m_controlServer;
    QTimer m_timer;
    QNetworkAccessManager *m_network = nullptr;
};

} // namespace iptv::diver
