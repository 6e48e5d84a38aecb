// Command round trip as an operator sees it, with the fleet online: POST /api/commands for one
// random box, then wait on the operator WebSocket for that command's "acknowledged" (the box has
// it) and "succeeded" (the box did it) updates. Sequential, so each figure is one command's trip
// through HTTP, the store, the box session, the box and back.
//
//   bench_commandrtt --http http://127.0.0.1:8421 --ws ws://127.0.0.1:8422 --password P --boxes 19000 --count 300
//
// Prints one JSON line: acknowledged and succeeded p50/p90/p99/max in milliseconds.
#include <protocol/message.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QTimer>
#include <QWebSocket>

#include <algorithm>
#include <cstdio>
#include <functional>

using namespace Qt::StringLiterals;
namespace proto = iptv::protocol;

namespace {

QJsonObject percentiles(QList<double> v)
{
    std::sort(v.begin(), v.end());
    const auto at = [&v](double q) { return v.isEmpty() ? 0.0 : v[qsizetype(q * double(v.size() - 1))]; };
    return {{u"n"_s, v.size()}, {u"p50"_s, at(0.5)}, {u"p90"_s, at(0.9)}, {u"p99"_s, at(0.99)},
            {u"max"_s, v.isEmpty() ? 0.0 : v.last()}};
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Operator-side command round trips against a running controlserver"_s);
    parser.addHelpOption();
    const QCommandLineOption httpOption(u"http"_s, u"Operator HTTP API."_s, u"url"_s, u"http://127.0.0.1:8421"_s);
    const QCommandLineOption wsOption(u"ws"_s, u"Operator WebSocket."_s, u"url"_s, u"ws://127.0.0.1:8422"_s);
    const QCommandLineOption accountOption(u"account"_s, u"Operator account."_s, u"name"_s, u"admin"_s);
    const QCommandLineOption passwordOption(u"password"_s, u"Its password."_s, u"password"_s);
    const QCommandLineOption boxesOption(u"boxes"_s, u"Box ids b-1..b-N to pick from."_s, u"n"_s, u"1000"_s);
    const QCommandLineOption countOption(u"count"_s, u"Commands to send, one after another."_s, u"n"_s, u"200"_s);
    parser.addOptions({httpOption, wsOption, accountOption, passwordOption, boxesOption, countOption});
    parser.process(app);
    const QUrl http(parser.value(httpOption));
    const int boxes = parser.value(boxesOption).toInt();
    const int count = parser.value(countOption).toInt();

    QNetworkAccessManager nam;
    QWebSocket ws;
    QByteArray token;
    QElapsedTimer clock;
    qint64 sentAt = 0;
    qint64 current = -1;
    int done = 0;
    bool acked = false;
    QList<double> ackMs, succeededMs;
    std::function<void()> sendNext;
    std::function<void()> settle;

    const auto post = [&](const QString &path, const QJsonObject &body, std::function<void(const QJsonObject &)> then) {
        QNetworkRequest request(http.resolved(QUrl(path)));
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        if (!token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + token);
        QNetworkReply *reply = nam.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
        QObject::connect(reply, &QNetworkReply::finished, reply, [reply, then] {
            reply->deleteLater();
            const QJsonObject answer = QJsonDocument::fromJson(reply->readAll()).object();
            if (reply->error() != QNetworkReply::NoError) {
                std::fprintf(stderr, "%s: %s\n", qPrintable(reply->url().toString()),
                             qPrintable(answer.value(u"detail"_s).toString(reply->errorString())));
                QCoreApplication::exit(1);
                return;
            }
            then(answer);
        });
    };

    sendNext = [&] {
        if (done == count) {
            const QJsonObject out{{u"commands"_s, count}, {u"acknowledgedMs"_s, percentiles(ackMs)},
                                  {u"succeededMs"_s, percentiles(succeededMs)}};
            std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
            std::fflush(stdout);
            QCoreApplication::exit(0);
            return;
        }
        const int box = 1 + int(QRandomGenerator::global()->bounded(boxes));
        acked = false;
        current = -1;
        sentAt = clock.elapsed();
        post(u"/api/commands"_s,
             {{u"kind"_s, u"tune"_s}, {u"args"_s, QJsonObject{{u"channel"_s, u"bench"_s}}},
              {u"target"_s, QJsonObject{{u"box"_s, u"b-%1"_s.arg(box)}}}, {u"expiresIn"_s, 60}},
             [&](const QJsonObject &answer) {
                 const QJsonArray ids = answer.value(u"commands"_s).toArray();
                 if (ids.isEmpty()) {
                     std::fprintf(stderr, "no command created (box offline?): %s\n",
                                  QJsonDocument(answer).toJson(QJsonDocument::Compact).constData());
                     QCoreApplication::exit(1);
                     return;
                 }
                 current = ids.first().toInteger();
                 settle(); // its updates may have come before this answer
             });
    };

    // Updates may arrive before the POST's answer names the command: keep them by id.
    QHash<qint64, std::pair<qint64, qint64>> seen; // id -> (acknowledged at, succeeded at)
    settle = [&] {
        if (current < 0 || !seen.contains(current))
            return;
        const auto [ackAt, okAt] = seen.value(current);
        if (ackAt && !acked) {
            acked = true;
            ackMs.append(double(ackAt - sentAt));
        }
        if (okAt) {
            succeededMs.append(double(okAt - sentAt));
            seen.remove(current);
            ++done;
            sendNext();
        }
    };
    QObject::connect(&ws, &QWebSocket::textMessageReceived, &ws, [&](const QString &text) {
        const proto::DecodeResult r = proto::decodeJson(text.toUtf8());
        if (!r.ok() || r.message.type != proto::MessageType::Update)
            return;
        const QCborMap &b = r.message.body;
        if (b.value(u"kind"_s).toString() != u"command")
            return;
        const qint64 id = b.value(u"command"_s).toInteger();
        const QString state = b.value(u"state"_s).toString();
        auto &entry = seen[id];
        if (state == u"acknowledged" && !entry.first)
            entry.first = clock.elapsed();
        else if (state == u"succeeded" || state == u"failed") {
            if (!entry.first)
                entry.first = clock.elapsed();
            entry.second = clock.elapsed();
        }
        settle();
    });
    QObject::connect(&ws, &QWebSocket::connected, &ws, [&] {
        // The token goes as the text /api/login gave (README of controlserver), not as bytes.
        const QJsonObject hello{{u"t"_s, u"hello"_s}, {u"id"_s, 1}, {u"v"_s, QJsonArray{1, 1}}, {u"role"_s, u"operator"_s},
                                {u"token"_s, QString::fromUtf8(token)}};
        const QJsonObject subscribe{{u"t"_s, u"subscribe"_s}, {u"id"_s, 2}, {u"topics"_s, QJsonArray{u"commands"_s}}};
        ws.sendTextMessage(QString::fromUtf8(QJsonDocument(hello).toJson(QJsonDocument::Compact)));
        ws.sendTextMessage(QString::fromUtf8(QJsonDocument(subscribe).toJson(QJsonDocument::Compact)));
        QTimer::singleShot(500, &app, sendNext); // the subscription is in place
    });
    post(u"/api/login"_s, {{u"account"_s, parser.value(accountOption)}, {u"password"_s, parser.value(passwordOption)}},
         [&](const QJsonObject &answer) {
             token = answer.value(u"token"_s).toString().toUtf8();
             clock.start();
             ws.open(QUrl(parser.value(wsOption)));
         });
    return app.exec();
}
