#pragma once

// Runs a command-line tool to completion for an end-to-end test and keeps what it printed.

#include <QProcess>
#include <QString>
#include <QStringList>

struct CliRun
{
    int exitCode = -1; ///< -1 when the program did not start, crashed or timed out
    QString out;
    QString err;
};

inline CliRun runCli(const QString &program, const QStringList &arguments, int timeoutMs = 60000)
{
    QProcess process;
    process.setProgram(program);
    process.setArguments(arguments);
    process.start();
    if (!process.waitForStarted())
        return {};
    process.waitForFinished(timeoutMs);
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()), QString::fromUtf8(process.readAllStandardError())};
}
