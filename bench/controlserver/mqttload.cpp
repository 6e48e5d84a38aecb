// The reference load for the control server benchmarks: N MQTT 3.1.1 clients against mosquitto,
// doing what fleetsim's boxes do against controlserver: connect, then publish telemetry at QoS 1
// and count the broker's PUBACKs.
//
//   mqttload --port 1883 --clients 9500 --duration 10 --inflight 1 --payload 150 [--id-prefix a]
//            [--host 127.0.0.1] [--spread 2] [--max-pending 50] [--publish-after 0] [--connect-timeout 60]
//
// Prints one JSON line: clients, connected, failed, connect seconds (first connect to last
// CONNACK), messages acknowledged and the rate over the publish phase, connections lost while
// publishing, and this process's CPU seconds in the publish phase (so a run shows whether the
// broker or the generator was the limit).
//
// The generator must cost less than the broker, or the reference figure measures it instead.
// One QTcpSocket a client on Qt's event loop did not: Qt's poll()-based dispatcher walks every
// socket each turn (2 processes x 9,500 clients: 15.2 s of CPU in a 9 s window against
// mosquitto's 2.4 s, 9,800 acks/s). So the clients here are plain non-blocking sockets in one
// level-triggered epoll set, and the process runs a plain epoll_wait() loop with the phase
// deadline as timeout (same load: 6.5 s against mosquitto's 8.4 s, a core, 78,000 acks/s). With
// --inflight 1 a message costs the generator one read and one send, as it costs the broker, so
// about 0.8x the broker's CPU is the floor. Nothing else in the process needs Qt's event loop (Qt
// only parses the command line and writes the JSON), so driving epoll from a QSocketNotifier, as
// libs/wsserver does to live next to Qt objects, would only add a hop and a timer per turn.
//
// The few MQTT packets used (CONNECT/CONNACK/PUBLISH/PUBACK) are framed here; a client library
// would add its own threads. --max-pending (per process) is 50 because mosquitto listens with a
// backlog of 100: connects beyond it are dropped and their SYNs come back only after 1 s, which
// then dominates the connect time (2 processes x 2,500 clients: 0.4 s at 50, 1.2 s at 100, 2.7 s
// at 1000). --spread N connects client i to host + i % N (127.0.0.1 ... 127.0.0.N) because with
// one destination address Linux's ephemeral port search gets slow past ~15,000 connections; the
// broker must then listen on all addresses. --publish-after S holds the publish phase until S s
// after the start, so that processes started together connect without one's flood slowing the
// other's connects (mosquitto then accepts only a few dozen a second) and publish over the same
// span, so their rates add up.
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

using Clock = std::chrono::steady_clock;

void appendLength(std::string &out, size_t length)
{
    do {
        char byte = char(length % 128);
        length /= 128;
        if (length > 0)
            byte = char(byte | 0x80);
        out.push_back(byte);
    } while (length > 0);
}

void appendString(std::string &out, const std::string &s)
{
    out.push_back(char(s.size() >> 8));
    out.push_back(char(s.size() & 0xff));
    out.append(s);
}

double cpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
           + double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Client
{
    enum State : quint8 { Idle, Connecting, Handshake, Publishing, Closed };
    int fd = -1;
    State state = Idle;
    quint32 events = 0;      // what epoll watches for fd now
    quint16 nextPacketId = 1;
    std::string in;          // an incomplete packet left over from the last read
    std::string out;         // bytes the socket did not take yet
};

class Load
{
public:
    struct Options
    {
        sockaddr_in address{};
        int count = 0;
        int spread = 1;
        int inflight = 1;
        int maxPending = 50;
        std::chrono::seconds duration{10};
        std::chrono::seconds connectTimeout{60};
        std::chrono::seconds publishAfter{0};
        std::string payload;
        std::string prefix;
    };

    explicit Load(Options options) : m_o(std::move(options)), m_clients(size_t(m_o.count)) {}
    ~Load()
    {
        for (Client &c : m_clients) {
            if (c.fd >= 0)
                ::close(c.fd);
        }
        if (m_epoll >= 0)
            ::close(m_epoll);
    }

    int run()
    {
        m_epoll = epoll_create1(EPOLL_CLOEXEC);
        if (m_epoll < 0) {
            std::fprintf(stderr, "mqttload: epoll_create1: %s\n", std::strerror(errno));
            return 2;
        }
        m_start = Clock::now();
        startMore();
        checkAllConnected();
        static constexpr int kEventsPerTurn = 512;
        epoll_event events[kEventsPerTurn];
        for (;;) {
            const Clock::time_point deadline = m_publishing    ? m_publishStart + m_o.duration
                                               : m_allConnected ? m_start + m_o.publishAfter
                                                                : m_start + m_o.connectTimeout;
            const Clock::time_point now = Clock::now();
            if (now >= deadline) {
                if (m_publishing)
                    break;
                if (m_allConnected)
                    startPublishing();
                else
                    abandonUnconnected();
                continue;
            }
            const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
            const int n = epoll_wait(m_epoll, events, kEventsPerTurn, int(wait));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                std::fprintf(stderr, "mqttload: epoll_wait: %s\n", std::strerror(errno));
                return 2;
            }
            for (int i = 0; i < n; ++i)
                handle(m_clients[events[i].data.u32], events[i].events);
        }
        report();
        return m_connected == m_o.count ? 0 : 1;
    }

private:
    void startMore()
    {
        if (m_starting)
            return; // a client failing at once inside the loop below; the loop goes on
        m_starting = true;
        while (m_started < m_o.count && m_started - m_connected - m_failed < m_o.maxPending) {
            const int index = m_started++;
            Client &c = m_clients[size_t(index)];
            sockaddr_in to = m_o.address;
            to.sin_addr.s_addr = htonl(ntohl(to.sin_addr.s_addr) + quint32(index % m_o.spread));
            c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c.fd < 0) {
                fail(c, index, "socket", errno);
                continue;
            }
            // Several PUBLISHes can go out in one write (--inflight > 1); do not let Nagle hold
            // them back waiting for the broker's delayed ACK.
            const int one = 1;
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (::connect(c.fd, reinterpret_cast<const sockaddr *>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
                fail(c, index, "connect", errno);
                continue;
            }
            // Writable means the connect finished, either way; SO_ERROR tells which.
            c.state = Client::Connecting;
            c.events = EPOLLOUT;
            epoll_event ev{};
            ev.events = c.events;
            ev.data.u32 = quint32(index);
            if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.fd, &ev) != 0)
                fail(c, index, "epoll_ctl", errno);
        }
        m_starting = false;
    }

    void handle(Client &c, quint32 events)
    {
        const int index = int(&c - m_clients.data());
        switch (c.state) {
        case Client::Idle:
        case Client::Closed:
            return; // an event queued in this turn before the client was closed
        case Client::Connecting: {
            int error = 0;
            socklen_t length = sizeof error;
            if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
                error = errno;
            if (error != 0 || (events & EPOLLHUP)) {
                fail(c, index, "connect", error != 0 ? error : ECONNRESET);
                return;
            }
            c.state = Client::Handshake;
            const std::string id = m_o.prefix + '-' + std::to_string(index);
            std::string body;
            appendString(body, "MQTT");
            body += {4, 0x02, 0x02, 0x58}; // v3.1.1, clean session, keepalive 600 s
            appendString(body, id);
            c.out.push_back(char(0x10));
            appendLength(c.out, body.size());
            c.out += body;
            flush(c, index);
            return;
        }
        case Client::Handshake:
        case Client::Publishing:
            break;
        }
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            // One read a turn: level-triggered epoll reports the rest next turn, after the
            // other clients had theirs.
            const ssize_t n = ::read(c.fd, m_scratch, sizeof m_scratch);
            if (n == 0) {
                fail(c, index, "read", ECONNRESET);
                return;
            }
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                    fail(c, index, "read", errno);
                return;
            }
            if (!parse(c, index, size_t(n)))
                return;
        }
        if (!c.out.empty())
            flush(c, index);
    }

    // Takes every complete packet out of what was read; keeps a partial one for the next read.
    bool parse(Client &c, int index, size_t n)
    {
        const char *data = m_scratch;
        size_t size = n;
        if (!c.in.empty()) {
            c.in.append(m_scratch, n);
            data = c.in.data();
            size = c.in.size();
        }
        size_t pos = 0;
        while (size - pos >= 2) {
            size_t length = 0, at = pos + 1;
            bool complete = false;
            for (int shift = 0; at < size && shift < 28; shift += 7) {
                const auto byte = quint8(data[at++]);
                length |= size_t(byte & 0x7f) << shift;
                if (!(byte & 0x80)) {
                    complete = true;
                    break;
                }
            }
            if (!complete) {
                if (at - pos > 4) {
                    fail(c, index, "bad packet length from broker", EPROTO);
                    return false;
                }
                break;
            }
            if (size - at < length)
                break;
            if (!packet(c, index, quint8(data[pos]) >> 4, data + at, length))
                return false;
            pos = at + length;
        }
        if (data == m_scratch)
            c.in.assign(data + pos, size - pos);
        else
            c.in.erase(0, pos);
        return true;
    }

    bool packet(Client &c, int index, int type, const char *body, size_t length)
    {
        if (type == 2 && c.state == Client::Handshake) { // CONNACK
            if (length < 2 || body[1] != 0) {
                fail(c, index, "CONNACK refused", EACCES);
                return false;
            }
            c.state = Client::Publishing;
            ++m_connected;
            startMore();
            checkAllConnected();
        } else if (type == 4) { // PUBACK
            ++m_acked;
            if (m_publishing) {
                ++m_ackedInPhase;
                publish(c, 1);
            }
        }
        return true;
    }

    void publish(Client &c, int times)
    {
        const std::string topic = "telemetry/" + m_o.prefix + '/' + std::to_string(&c - m_clients.data());
        for (int i = 0; i < times; ++i) {
            c.out.push_back(char(0x32)); // PUBLISH, QoS 1
            appendLength(c.out, 2 + topic.size() + 2 + m_o.payload.size());
            appendString(c.out, topic);
            c.out.push_back(char(c.nextPacketId >> 8));
            c.out.push_back(char(c.nextPacketId & 0xff));
            c.out += m_o.payload;
            c.nextPacketId = quint16(c.nextPacketId % 65535 + 1);
        }
    }

    // Writes what the socket takes; watches for writability only while something is left.
    void flush(Client &c, int index)
    {
        size_t sent = 0;
        while (sent < c.out.size()) {
            const ssize_t n = ::send(c.fd, c.out.data() + sent, c.out.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += size_t(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                break;
            } else {
                fail(c, index, "write", n < 0 ? errno : EPIPE);
                return;
            }
        }
        c.out.erase(0, sent);
        const quint32 wanted = EPOLLIN | (c.out.empty() ? 0u : quint32(EPOLLOUT));
        if (wanted != c.events) {
            c.events = wanted;
            epoll_event ev{};
            ev.events = wanted;
            ev.data.u32 = quint32(index);
            epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
        }
    }

    void fail(Client &c, int index, const char *what, int error)
    {
        std::fprintf(stderr, "client %d: %s: %s\n", index, what, std::strerror(error));
        const bool wasConnected = c.state == Client::Publishing;
        if (c.fd >= 0)
            ::close(c.fd); // also leaves the epoll set
        c.fd = -1;
        c.state = Client::Closed;
        std::string().swap(c.in);
        std::string().swap(c.out);
        if (wasConnected) {
            ++m_lost;
        } else {
            ++m_failed;
            startMore();
            checkAllConnected();
        }
    }

    void abandonUnconnected()
    {
        m_started = m_o.count;
        for (size_t i = 0; i < m_clients.size(); ++i) {
            Client &c = m_clients[i];
            if (c.state == Client::Connecting || c.state == Client::Handshake || c.state == Client::Idle)
                fail(c, int(i), "no CONNACK before --connect-timeout", ETIMEDOUT);
        }
    }

    void checkAllConnected()
    {
        if (m_allConnected || m_connected + m_failed < m_o.count)
            return;
        m_allConnected = true;
        const Clock::time_point now = Clock::now();
        m_connectSeconds = std::chrono::duration<double>(now - m_start).count();
        std::fprintf(stderr, "connected %d of %d in %.2f s\n", m_connected, m_o.count, m_connectSeconds);
        if (now >= m_start + m_o.publishAfter)
            startPublishing();
    }

    void startPublishing()
    {
        m_publishing = true;
        m_publishStart = Clock::now();
        m_publishCpu = cpuSeconds();
        for (size_t i = 0; i < m_clients.size(); ++i) {
            Client &c = m_clients[i];
            if (c.state == Client::Publishing) {
                publish(c, m_o.inflight);
                flush(c, int(i));
            }
        }
    }

    void report() const
    {
        const double seconds = std::chrono::duration<double>(Clock::now() - m_publishStart).count();
        const QJsonObject out{{u"clients"_s, m_o.count}, {u"connected"_s, m_connected}, {u"failed"_s, m_failed},
                              {u"connectSeconds"_s, m_connectSeconds}, {u"acked"_s, m_ackedInPhase},
                              {u"seconds"_s, seconds}, {u"ackedPerSecond"_s, double(m_ackedInPhase) / seconds},
                              {u"lost"_s, m_lost}, {u"cpuSeconds"_s, cpuSeconds() - m_publishCpu}};
        std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
    }

    const Options m_o;
    std::vector<Client> m_clients;
    int m_epoll = -1;
    int m_started = 0, m_connected = 0, m_failed = 0, m_lost = 0;
    qint64 m_acked = 0, m_ackedInPhase = 0;
    bool m_allConnected = false, m_publishing = false, m_starting = false;
    Clock::time_point m_start, m_publishStart;
    double m_connectSeconds = 0, m_publishCpu = 0;
    char m_scratch[64 * 1024];
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"MQTT QoS 1 telemetry load against a broker (the reference for bench/controlserver)"_s);
    parser.addHelpOption();
    const QCommandLineOption hostOption(u"host"_s, u"Broker host (IPv4)."_s, u"host"_s, u"127.0.0.1"_s);
    const QCommandLineOption portOption(u"port"_s, u"Broker port."_s, u"port"_s, u"1883"_s);
    const QCommandLineOption clientsOption(u"clients"_s, u"Number of clients."_s, u"n"_s, u"1000"_s);
    const QCommandLineOption durationOption(u"duration"_s, u"Seconds of publishing."_s, u"s"_s, u"10"_s);
    const QCommandLineOption inflightOption(u"inflight"_s, u"Unacknowledged messages per client."_s, u"n"_s, u"1"_s);
    const QCommandLineOption payloadOption(u"payload"_s, u"Payload bytes (a telemetry message)."_s, u"bytes"_s, u"150"_s);
    const QCommandLineOption pendingOption(u"max-pending"_s, u"Connections being set up at once."_s, u"n"_s, u"50"_s);
    const QCommandLineOption prefixOption(u"id-prefix"_s, u"Client id prefix (unique per process)."_s, u"p"_s, u"load"_s);
    const QCommandLineOption spreadOption(u"spread"_s, u"Connect client i to host + i % n (127.0.0.1 ... 127.0.0.n)."_s,
                                          u"n"_s, u"1"_s);
    const QCommandLineOption publishAfterOption(u"publish-after"_s,
                                                u"Publish no earlier than this many seconds after the start."_s, u"s"_s, u"0"_s);
    const QCommandLineOption timeoutOption(u"connect-timeout"_s, u"Seconds after which unconnected clients count as failed."_s,
                                           u"s"_s, u"60"_s);
    parser.addOptions({hostOption, portOption, clientsOption, durationOption, inflightOption, payloadOption,
                       pendingOption, prefixOption, spreadOption, publishAfterOption, timeoutOption});
    parser.process(app);

    Load::Options o;
    const QByteArray host = parser.value(hostOption).toUtf8();
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *found = nullptr;
    if (const int rc = getaddrinfo(host.constData(), nullptr, &hints, &found); rc != 0) {
        std::fprintf(stderr, "mqttload: --host %s: %s\n", host.constData(), gai_strerror(rc));
        return 2;
    }
    o.address = *reinterpret_cast<const sockaddr_in *>(found->ai_addr);
    freeaddrinfo(found);
    o.address.sin_port = htons(quint16(parser.value(portOption).toUInt()));
    o.count = qMax(0, parser.value(clientsOption).toInt());
    o.duration = std::chrono::seconds(parser.value(durationOption).toInt());
    o.connectTimeout = std::chrono::seconds(qMax(1, parser.value(timeoutOption).toInt()));
    o.publishAfter = std::chrono::seconds(qMax(0, parser.value(publishAfterOption).toInt()));
    o.inflight = qMax(1, parser.value(inflightOption).toInt());
    o.payload.assign(size_t(qMax(0, parser.value(payloadOption).toInt())), 'x');
    o.maxPending = qMax(1, parser.value(pendingOption).toInt());
    o.spread = qMax(1, parser.value(spreadOption).toInt());
    o.prefix = parser.value(prefixOption).toStdString();

    // One descriptor a client: take the hard limit rather than fail at the soft one.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    return Load(std::move(o)).run();
}
