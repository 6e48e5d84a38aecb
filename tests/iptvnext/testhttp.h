#pragma once

// Blocking HTTP helpers for the iptvnext tests: each call spins the event loop until the reply
// finishes (the server runs in the same thread), never sleeping.

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QUrl>

#include <memory>

struct HttpResult
{
    int status = 0;
    QByteArray body;
    QList<QNetworkReply::RawHeaderPair> headers;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &[k, v] : headers) {
            if (k.compare(name, Qt::CaseInsensitive) == 0)
                return v;
        }
        return {};
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

/// `verb` to `url` with `body` (none when empty) and `headers`.
inline HttpResult httpSend(QNetworkAccessManager &nam, const QByteArray &verb, const QUrl &url, const QByteArray &body,
                           const QList<std::pair<QByteArray, QByteArray>> &headers = {}, int timeoutMs = 30000)
{
    QNetworkRequest request(url);
    // Keep each request independent: no cache, and a 304 must reach the test as a 304.
    request.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    for (const auto &[k, v] : headers)
        request.setRawHeader(k, v);
    std::unique_ptr<QNetworkReply> reply(nam.sendCustomRequest(request, verb, body));
    if (!reply->isFinished()) {
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        finished.wait(timeoutMs);
    }
    HttpResult r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.headers = reply->rawHeaderPairs();
    r.error = reply->error();
    return r;
}

inline HttpResult httpRequest(QNetworkAccessManager &nam, const QByteArray &verb, const QUrl &url,
                              const QList<std::pair<QByteArray, QByteArray>> &headers = {}, int timeoutMs = 30000)
{
    return httpSend(nam, verb, url, {}, headers, timeoutMs);
}

inline HttpResult httpGet(QNetworkAccessManager &nam, const QUrl &url,
                          const QList<std::pair<QByteArray, QByteArray>> &headers = {})
{
    return httpRequest(nam, "GET", url, headers);
}
