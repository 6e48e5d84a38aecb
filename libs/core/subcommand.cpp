#include "subcommand.h"

#include <QCoreApplication>

#include <cstdio>
#include <cstdlib>

namespace iptv::cli {

Parsed SubcommandProgram::parse(QCommandLineParser &parser, const QString &command, const QStringList &arguments,
                                QTextStream &out, QTextStream &err) const
{
    const QCommandLineOption help({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help."));
    parser.addOption(help);
    QStringList args = arguments;
    // Keep the program name for the parser, drop the command word.
    if (args.size() >= 2)
        args.removeAt(1);
    if (!parser.parse(args))
        return {false, usageError(err, command, parser.errorText())};
    if (parser.isSet(help)) {
        // The user typed "<program> <command>".
        out << helpText(parser, m_program + u' ' + command);
        return {false, ExitOk};
    }
    return {true, ExitOk};
}

int SubcommandProgram::usageError(QTextStream &err, const QString &command, const QString &message) const
{
    err << m_program << ' ' << command << u": "_qs << message << '\n'
        << u"Try '"_qs << m_program << ' ' << command << u" --help'.\n"_qs;
    return ExitUsage;
}

int SubcommandProgram::failure(QTextStream &err, const QString &message) const
{
    err << m_program << u": error: "_qs << message << '\n';
    return ExitError;
}

int SubcommandProgram::dispatch(const QStringList &arguments, const QString &overview, const QList<Command> &commands,
                                QTextStream &out, QTextStream &err) const
{
    if (arguments.size() < 2) {
        err << overview;
        return ExitUsage;
    }
    const QString command = arguments.at(1);
    if (command == u"-h" || command == u"--help" || command == u"help") {
        out << overview;
        return ExitOk;
    }
    if (command == u"-v" || command == u"--version") {
        out << m_program << ' ' << QCoreApplication::applicationVersion() << '\n';
        return ExitOk;
    }
    for (const Command &c : commands) {
        if (c.name == command)
            return c.run(arguments, out, err);
    }
    err << m_program << u": unknown command '"_qs << command << u"'\n\n"_qs << overview;
    return ExitUsage;
}

QString helpText(const QCommandLineParser &parser, const QString &usageName)
{
    QString text = parser.helpText();
    const qsizetype usage = text.indexOf(u"Usage: "_qs);
    if (usage >= 0) {
        qsizetype end = text.indexOf(u' ', usage + 7);
        const qsizetype lineEnd = text.indexOf(u'\n', usage + 7);
        if (end < 0 || (lineEnd >= 0 && lineEnd < end))
            end = lineEnd;
        text.replace(usage + 7, end - usage - 7, usageName);
    }
    return text;
}

void processCommandLine(QCommandLineParser &parser, const QStringList &arguments)
{
    const QString name = QCoreApplication::applicationName();
    if (!parser.parse(arguments)) {
        std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", qPrintable(name), qPrintable(parser.errorText()),
                     qPrintable(name));
        std::exit(ExitUsage);
    }
    if (parser.isSet(QStringLiteral("version"))) {
        std::printf("%s %s\n", qPrintable(name), qPrintable(QCoreApplication::applicationVersion()));
        std::exit(ExitOk);
    }
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(helpText(parser, name)), stdout);
        std::exit(ExitOk);
    }
}

QString humanBytes(qint64 bytes)
{
    if (bytes < 10 * 1024)
        return QStringLiteral("%1 B").arg(bytes);
    if (bytes < 10 * 1024 * 1024)
        return QStringLiteral("%1 KiB").arg(double(bytes) / 1024.0, 0, 'f', 1);
    return QStringLiteral("%1 MiB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

} // namespace iptv::cli
