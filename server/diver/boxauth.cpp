#include "boxauth.h"

#include <protocol/boxticket.h>

#include <QLoggingCategory>
#include <QMetaObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>

#include <algorithm>

Q_LOGGING_CATEGORY(lcDiverAuth, "iptv.diver.auth", QtInfoMsg)

namespace iptv::diver {

BoxAuth::BoxAuth(QObject *parent) : QObject(parent)
{
    connect(&m_timer, &QTimer::timeout, this, &BoxAuth::fetch);
    m_retry.setSingleShot(true);
    m_retry.setInterval(10000);
    connect(&m_retry, &QTimer::timeout, this, &BoxAuth::fetch);
}

bool BoxAuth::loadKeyFiles(const QStringList &paths, QString *error)
{
    m_fileKeys = payload::loadPublicKeys(paths, error);
    if (m_fileKeys.size() != paths.size())
        return false;
    for (const auto &k : std::as_const(m_fileKeys))
        addKey(k);
    return true;
}

void BoxAuth::addKey(const payload::PublicKey &key)
{
    if (key.isNull() || m_keys.contains(key))
        return;
    m_keys.append(key);
    qCInfo(lcDiverAuth).noquote() << "trusting box tickets signed with key" << key.keyId();
    Q_EMIT keysChanged();
}

void BoxAuth::fetchFrom(const QUrl &controlServer, int refreshMs, int retryMs)
{
    m_controlServer = controlServer;
    m_retry.setInterval(retryMs);
    m_timer.start(refreshMs);
    fetch();
}

void BoxAuth::keyMissing()
{
    if (!m_controlServer.isValid() || m_fetching || (m_lastKeyMissing.isValid() && m_lastKeyMissing.elapsed() < m_retry.interval()))
        return;
    m_lastKeyMissing.start();
    qCInfo(lcDiverAuth).noquote() << "a ticket names a key diver does not hold; asking" << m_controlServer.toDisplayString()
                                  << "for its current key";
    fetch();
}

void BoxAuth::fetch()
{
    // One request at a time: the hourly tick, the retry and tickets with a new key meet here.
    if (m_fetching)
        return;
    m_fetching = true;
    m_retry.stop();
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QUrl url = m_controlServer;
    url.setPath(url.path().chopped(url.path().endsWith(u'/') ? 1 : 0) + QStringLiteral("/api/ticket-key"));
    QNetworkRequest request(url);
    request.setTransferTimeout(10000);
    QNetworkReply *reply = m_network->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply, url] {
        reply->deleteLater();
        m_fetching = false;
        QString error;
        const auto key = reply->error() == QNetworkReply::NoError ? payload::PublicKey::fromText(reply->readAll(), &error)
                                                                   : payload::PublicKey();
        if (key.isNull()) {
            qCWarning(lcDiverAuth).noquote() << "no ticket key from" << url.toDisplayString() << ":"
                                             << (error.isEmpty() ? reply->errorString() : error)
                                             << (m_keys.isEmpty() ? QStringLiteral("(retrying in %1 s)").arg(m_retry.interval() / 1000.0)
                                                                  : QStringLiteral("(keeping the key held)"));
            if (m_keys.isEmpty())
                m_retry.start(); // the one retry: a tick meanwhile does not start another chain
            return;
        }
        // The control server's current key, plus the files'; an older fetched key is dropped.
        QList<payload::PublicKey> keys = m_fileKeys;
        if (!keys.contains(key))
            keys.append(key);
        if (keys != m_keys) {
            m_keys = keys;
            qCInfo(lcDiverAuth).noquote() << "box tickets are checked with key" << key.keyId() << "from" << url.toDisplayString();
            Q_EMIT keysChanged();
        }
    });
}

std::optional<Identity> BoxAuth::verifyTicket(QByteArrayView ticket, qint64 now, QString *error) const
{
    // verifyTicket() answers a request; the fetch waits for the event loop (queued), so a
    // const check stays one.
    auto fetchSoon = [this] {
        QMetaObject::invokeMethod(const_cast<BoxAuth *>(this), &BoxAuth::keyMissing, Qt::QueuedConnection);
    };
    if (m_keys.isEmpty()) {
        *error = QStringLiteral("diver has no ticket key yet (the control server was not reached); retry shortly");
        fetchSoon();
        return std::nullopt;
    }
    const auto t = protocol::BoxTicket::verify(ticket, m_keys, now, QStringLiteral("diver"), error);
    if (!t) {
        const QString kid = protocol::BoxTicket::keyIdOf(ticket);
        const bool held = std::any_of(m_keys.begin(), m_keys.end(), [&](const payload::PublicKey &k) { return k.keyId() == kid; });
        if (!kid.isEmpty() && !held && m_controlServer.isValid()) {
            *error += QStringLiteral("; diver asks the control server for its current key: retry shortly");
            fetchSoon();
        }
        return std::nullopt;
    }
    return Identity{false, t->serial, t->expiresAt};
}

bool BoxAuth::looksLikeTicket(QByteArrayView credential)
{
    const qsizetype dot = credential.indexOf('.');
    if (dot <= 0 || dot == credential.size() - 1 || credential.lastIndexOf('.') != dot)
        return false;
    return std::all_of(credential.begin(), credential.end(), [](char ch) {
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
            || ch == '.';
    });
}

} // namespace iptv::diver
