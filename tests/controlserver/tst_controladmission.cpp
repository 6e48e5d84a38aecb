// Admission control: a crowd of boxes connecting at once against a small hello budget. Some are
// told overloaded{retryAfter} and closed; each comes back after its retryAfter (as a box does),
// and all end up online; the server never refuses to serve and counts the rejections.

#include "testbox.h"

#include "boxes/boxgateway.h"
#include "boxes/fleet.h"

#include <QTimer>

#include <algorithm>

using namespace testutil;
using namespace iptv::control;

/// A box that reconnects after the server's retryAfter, like libs/boxlink does.
class PatientBox : public QObject
{
    Q_OBJECT
public:
    PatientBox(const QString &serial, quint16 port, QObject *parent)
        : QObject(parent), m_box(serial), m_port(port)
    {
        connect(&m_box.socket(), &QWebSocket::connected, this, [this] { m_box.sayHello(m_box.token.isEmpty(), !m_box.token.isEmpty()); });
        connect(&m_box, &TestBox::received, this, [this] {
            while (const auto m = m_box.take()) {
                QString e;
                if (m->type == MessageType::Welcome) {
                    const auto w = Welcome::fromBody(m->body, &e);
                    if (w && !w->token.isEmpty())
                        m_box.token = w->token;
                    welcomed = true;
                } else if (m->type == MessageType::Error) {
                    const auto body = ErrorBody::fromBody(m->body, &e);
                    if (body && body->code == ErrorCode::Overloaded) {
                        ++overloaded;
                        QTimer::singleShot(body->retryAfterSeconds * 1000, this, [this] { start(); });
                    }
                }
            }
        });
    }
    void start() { m_box.socket().open(QUrl(QStringLiteral("ws://127.0.0.1:%1/box").arg(m_port))); }

    int overloaded = 0;
    bool welcomed = false;

private:
    TestBox m_box;
    quint16 m_port;
};

class TestControlAdmission : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void crowdGetsInEventually()
    {
        QTemporaryDir dir;
        ControlConfig config = testConfig(dir);
        config.autoApprove = true;
        config.helloRate = 40;
        config.helloBurst = 10;
        config.retryAfterMaxSeconds = 2;
        ControlServer server(config);
        QString error;
        QVERIFY2(server.start(&error), qPrintable(error));

        constexpr int Boxes = 80;
        QList<PatientBox *> boxes;
        for (int i = 0; i < Boxes; ++i) {
            boxes.append(new PatientBox(QStringLiteral("CROWD-%1").arg(i), server.boxPort(), this));
            boxes.last()->start();
        }
        QTRY_COMPARE_WITH_TIMEOUT(server.fleet().onlineCount(), Boxes, 30000);
        // The server counts a box online as it sends the Welcome; the box reads it a turn later.
        const auto welcomed = [&boxes] { return std::count_if(boxes.cbegin(), boxes.cend(), [](const PatientBox *b) { return b->welcomed; }); };
        QTRY_COMPARE(welcomed(), qsizetype(Boxes));
        int overloaded = 0;
        for (PatientBox *b : boxes)
            overloaded += b->overloaded;
        QVERIFY2(overloaded > 0, "the budget of 10 + 40/s must turn some of 80 simultaneous hellos away");
        QVERIFY(server.metrics().render().contains("controlserver_admission_rejections_total{reason=\"hello-rate\"}"));
        QTRY_COMPARE(server.gateway()->handshakesInFlight(), 0);
        qDeleteAll(boxes);
    }
};

QTEST_GUILESS_MAIN(TestControlAdmission)
#include "tst_controladmission.moc"
