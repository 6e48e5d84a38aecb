#include "boxauth.h"

#include <protocol/boxticket.h>

#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>

#include <algorithm>

Q_LOGGING_CATEGORY(lcDiverAuth, "iptv.diver.auth", QtInfoMsg)

namespace iptv::diver {

BoxAuth::BoxAuth(QObject *parent) : QObject(parent)
{
    connect(&m_timer, &QTimer::timeout, this, &BoxAuth::fetch);
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

void BoxAuth::fetchFrom(const QUrl &controlServer, int refreshMs)
{
    m_controlServer = controlServer;
    m_timer.start(refreshMs);
    fetch();
}

void BoxAuth::fetch()
{
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QUrl url = m_controlServer;
    url.setPath(url.path().chopped(url.path().endsWith(u'/') ? 1 : 0) + QStringLiteral("/api/ticket-key"));
    QNetworkRequest request(url);
    request.setTransferTimeout(10000);
    QNetworkReply *reply = m_network->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply, url] {
        reply->deleteLater();
        QString error;
        const auto key = reply->error() == QNetworkReply::NoError ? payload::PublicKey::fromText(reply->readAll(), &error)
                                                                   : payload::PublicKey();
        if (key.isNull()) {
            qCWarning(lcDiverAuth).noquote() << "no ticket key from" << url.toDisplayString() << ":"
                                             << (error.isEmpty() ? reply->errorString() : error) << "(retrying in 10 s)";
            if (m_keys.isEmpty())
                QTimer::singleShot(10000, this, &BoxAuth::fetch);
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
    if (m_keys.isEmpty()) {
        *error = QStringLiteral("diver has no ticket key yet (the control server was not reached); retry shortly");
        return std::nullopt;
    }
    const auto t = protocol::BoxTicket::verify(ticket, m_keys, now, QStringLiteral("diver"), error);
    if (!t)
        return std::nullopt;
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
