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
        if (port != 0)
            return startOn(port);
        // A free port is only free until someone binds it (the test beside this one, an outgoing
        // connection): redis-server then exits saying so, and another one is tried.
        for (int attempt = 1; attempt <= 5; ++attempt) {
            QTcpServer probe;
            probe.listen(QHostAddress::LocalHost);
            const quint16 free = probe.serverPort();
            probe.close();
            if (startOn(free))
                return true;
            if (!m_log.contains("Address already in use"))
                return false;
            qWarning("redis-server could not bind port %u (taken since it was found free): another one", unsigned(free));
        }
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
    bool startOn(quint16 port)
    {
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
        m_log.clear();
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
            if (m_process.waitForReadyRead(int(deadline.remainingTime())))
                m_log += m_process.readAll();
            if (m_log.contains("Ready to accept connections"))
                return true;
        }
        m_process.waitForFinished(1000);
        m_log += m_process.readAll();
        qWarning("redis-server did not start: %s", m_log.constData());
        return false;
    }

    QByteArray m_log;
    QProcess m_process;
    quint16 m_port = 0;
};
