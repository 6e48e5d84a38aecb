// The reference load for the control server benchmarks: N MQTT 3.1.1 clients against mosquitto,
// doing what fleetsim's boxes do against controlserver: connect, then publish telemetry at QoS 1
// and count the broker's PUBACKs. One QTcpSocket a client, the same as one QWebSocket a box.
//
//   mqttload --port 1883 --clients 9500 --duration 10 --inflight 1 --payload 150 [--id-prefix a]
//
// Prints one JSON line: clients, connected, connect seconds (first connect to last CONNACK),
// messages acknowledged and the rate over the publish phase. The few MQTT packets used are framed
// here (CONNECT/CONNACK/PUBLISH/PUBACK, 20 lines); a client library would add its own threads.
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTimer>

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

void appendLength(QByteArray &out, int length)
{
    do {
        char byte = char(length % 128);
        length /= 128;
        if (length > 0)
            byte = char(byte | 0x80);
        out.append(byte);
    } while (length > 0);
}

void appendString(QByteArray &out, const QByteArray &s)
{
    out.append(char(s.size() >> 8)).append(char(s.size() & 0xff)).append(s);
}

QByteArray connectPacket(const QByteArray &clientId)
{
    QByteArray body;
    appendString(body, "MQTT");
    body.append(char(4)).append(char(0x02)).append(char(0x02)).append(char(0x58)); // v3.1.1, clean, keepalive 600 s
    appendString(body, clientId);
    QByteArray packet(1, char(0x10));
    appendLength(packet, int(body.size()));
    return packet + body;
}

QByteArray publishPacket(const QByteArray &topic, quint16 packetId, const QByteArray &payload)
{
    QByteArray body;
    appendString(body, topic);
    body.append(char(packetId >> 8)).append(char(packetId & 0xff)).append(payload);
    QByteArray packet(1, char(0x32)); // PUBLISH, QoS 1
    appendLength(packet, int(body.size()));
    return packet + body;
}

struct Client
{
    QTcpSocket *socket = nullptr;
    QByteArray buffer;
    QByteArray topic;
    quint16 nextPacketId = 1;
    bool connected = false;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"MQTT QoS 1 telemetry load against a broker (the reference for bench/controlserver)"_s);
    parser.addHelpOption();
    const QCommandLineOption hostOption(u"host"_s, u"Broker host."_s, u"host"_s, u"127.0.0.1"_s);
    const QCommandLineOption portOption(u"port"_s, u"Broker port."_s, u"port"_s, u"1883"_s);
    const QCommandLineOption clientsOption(u"clients"_s, u"Number of clients."_s, u"n"_s, u"1000"_s);
    const QCommandLineOption durationOption(u"duration"_s, u"Seconds of publishing."_s, u"s"_s, u"10"_s);
    const QCommandLineOption inflightOption(u"inflight"_s, u"Unacknowledged messages per client."_s, u"n"_s, u"1"_s);
    const QCommandLineOption payloadOption(u"payload"_s, u"Payload bytes (a telemetry message)."_s, u"bytes"_s, u"150"_s);
    const QCommandLineOption pendingOption(u"max-pending"_s, u"Connections being set up at once."_s, u"n"_s, u"1000"_s);
    const QCommandLineOption prefixOption(u"id-prefix"_s, u"Client id prefix (unique per process)."_s, u"p"_s, u"load"_s);
    parser.addOptions({hostOption, portOption, clientsOption, durationOption, inflightOption, payloadOption,
                       pendingOption, prefixOption});
    parser.process(app);

    const QString host = parser.value(hostOption);
    const quint16 port = quint16(parser.value(portOption).toUInt());
    const int count = parser.value(clientsOption).toInt();
    const int duration = parser.value(durationOption).toInt();
    const int inflight = qMax(1, parser.value(inflightOption).toInt());
    const QByteArray payload(parser.value(payloadOption).toInt(), 'x');
    const int maxPending = qMax(1, parser.value(pendingOption).toInt());
    const QByteArray prefix = parser.value(prefixOption).toUtf8();

    std::vector<Client> clients(static_cast<size_t>(count));
    QElapsedTimer clock;
    qint64 connectedAt = -1, publishStart = -1;
    int connected = 0, started = 0, failed = 0;
    qint64 acked = 0, ackedInPhase = 0;
    bool publishing = false;

    const auto publish = [&](Client &c) {
        c.socket->write(publishPacket(c.topic, c.nextPacketId, payload));
        c.nextPacketId = quint16(c.nextPacketId % 65535 + 1);
    };
    const auto startPublishing = [&]() {
        publishing = true;
        publishStart = clock.elapsed();
        for (Client &c : clients) {
            if (c.connected) {
                for (int i = 0; i < inflight; ++i)
                    publish(c);
            }
        }
        QTimer::singleShot(duration * 1000, &app, [&]() {
            const double seconds = double(clock.elapsed() - publishStart) / 1000.0;
            QJsonObject out{{u"clients"_s, count}, {u"connected"_s, connected}, {u"failed"_s, failed},
                            {u"connectSeconds"_s, double(connectedAt) / 1000.0},
                            {u"acked"_s, ackedInPhase}, {u"seconds"_s, seconds},
                            {u"ackedPerSecond"_s, double(ackedInPhase) / seconds}};
            std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
            std::fflush(stdout);
            app.exit(connected == count ? 0 : 1);
        });
    };
    const auto checkAllConnected = [&]() {
        if (connected + failed == count && connectedAt < 0) {
            connectedAt = clock.elapsed();
            std::fprintf(stderr, "connected %d of %d in %.2f s\n", connected, count, double(connectedAt) / 1000.0);
            startPublishing();
        }
    };
    std::function<void()> startMore;
    startMore = [&]() {
        while (started < count && started - connected - failed < maxPending) {
            Client &c = clients[size_t(started)];
            const int index = started++;
            c.topic = "telemetry/" + prefix + '/' + QByteArray::number(index);
            c.socket = new QTcpSocket(&app);
            QObject::connect(c.socket, &QTcpSocket::connected, c.socket, [&c, &prefix, index]() {
                c.socket->write(connectPacket(prefix + '-' + QByteArray::number(index)));
            });
            QObject::connect(c.socket, &QTcpSocket::errorOccurred, c.socket, [&, index](QAbstractSocket::SocketError) {
                Client &self = clients[size_t(index)];
                std::fprintf(stderr, "client %d: %s\n", index, qPrintable(self.socket->errorString()));
                if (!self.connected) {
                    ++failed;
                    startMore();
                    checkAllConnected();
                }
            });
            QObject::connect(c.socket, &QTcpSocket::readyRead, c.socket, [&, index]() {
                Client &self = clients[size_t(index)];
                self.buffer += self.socket->readAll();
                for (;;) {
                    if (self.buffer.size() < 2)
                        return;
                    int length = 0, multiplier = 1, pos = 1;
                    for (;; ++pos) {
                        if (pos >= self.buffer.size())
                            return;
                        const auto byte = quint8(self.buffer[pos]);
                        length += (byte & 0x7f) * multiplier;
                        multiplier *= 128;
                        if (!(byte & 0x80))
                            break;
                    }
                    if (self.buffer.size() < pos + 1 + length)
                        return;
                    const auto type = quint8(self.buffer[0]) >> 4;
                    self.buffer.remove(0, pos + 1 + length);
                    if (type == 2 && !self.connected) { // CONNACK
                        self.connected = true;
                        ++connected;
                        startMore();
                        checkAllConnected();
                    } else if (type == 4) { // PUBACK
                        ++acked;
                        if (publishing) {
                            ++ackedInPhase;
                            publish(self);
                        }
                    }
                }
            });
            c.socket->connectToHost(host, port);
        }
    };
    clock.start();
    startMore();
    return app.exec();
}
