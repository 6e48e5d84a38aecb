#pragma once

// A throwaway redis-server for tests: a free loopback port, no persistence, stopped with the
// object. Tests skip with a message when redis-server is not installed.
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QDeadlineTimer>
#include <QTest>

class RedisServer
{
public:
    static QString binary() { return QStandardPaths::findExecutable(QStringLiteral("redis-server")); }

    ~RedisServer() { stop(); }

    /// Starts on `port` (0 = a free one) and waits until it accepts connections.
    bool start(quint16 port = 0)
    {
        if (port == 0) {
            QTcpServer probe;
            probe.listen(QHostAddress::LocalHost);
            port = probe.serverPort();
        }
        m_port = port;
        m_process.setProgram(binary());
        m_process.setArguments({QStringLiteral("--port"), QString::number(port), QStringLiteral("--bind"),
                                QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                                QStringLiteral("--appendonly"), QStringLiteral("no")});
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        // redis-server says so on its log when it accepts connections.
        QByteArray log;
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
            if (m_process.waitForReadyRead(int(deadline.remainingTime())))
                log += m_process.readAll();
            if (log.contains("Ready to accept connections"))
                return true;
        }
        qWarning("redis-server did not start: %s", log.constData());
        return false;
    }

    void stop()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    quint16 port() const { return m_port; }

private:
    QProcess m_process;
    quint16 m_port = 0;
};
