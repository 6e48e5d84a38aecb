#pragma once

// The scaffolding shared by the operator CLIs that take a command word ("iptv-guide compile ...",
// "iptv-payload build ..."): per-command --help with the right usage line, usage and error
// messages in one form, dispatch with an overview, and the usual exit codes.

#include <QCommandLineParser>
#include <QList>
#include <QString>
#include <QStringList>
#include <QTextStream>

#include <functional>

namespace iptv::cli {

inline constexpr int ExitOk = 0;
inline constexpr int ExitError = 1; ///< the work failed: unreadable input, unwritable output, ...
inline constexpr int ExitUsage = 2; ///< the command line was wrong

/// What a command's parser gives back: go on, or stop with this exit code (help shown, bad usage).
struct Parsed
{
    bool proceed = false;
    int exitCode = ExitOk;
};

using CommandFunction = std::function<int(const QStringList &arguments, QTextStream &out, QTextStream &err)>;

struct Command
{
    QString name;
    CommandFunction run;
};

/// One program with command words; `program` is the name the user types.
class SubcommandProgram
{
public:
    explicit SubcommandProgram(QString program) : m_program(std::move(program)) {}

    const QString &program() const { return m_program; }

    /// Adds -h/--help to `parser` and parses `arguments` (program, command word, options...).
    Parsed parse(QCommandLineParser &parser, const QString &command, const QStringList &arguments, QTextStream &out,
                 QTextStream &err) const;
    /// "program command: message" and a hint to --help; returns ExitUsage.
    int usageError(QTextStream &err, const QString &command, const QString &message) const;
    /// "program: error: message"; returns ExitError.
    int failure(QTextStream &err, const QString &message) const;
    /// Runs the command named by arguments[1]; without one, or for an unknown one, prints `overview`
    /// to `err` and returns ExitUsage. -h/--help/help print the overview, -v/--version the version.
    int dispatch(const QStringList &arguments, const QString &overview, const QList<Command> &commands,
                 QTextStream &out, QTextStream &err) const;

private:
    QString m_program;
};

/// "512 B", "12.5 KiB", "3.2 MiB".
QString humanBytes(qint64 bytes);

/// QCommandLineParser::helpText() with the program's name where Qt prints the path it was run by
/// (a build directory means nothing to an operator reading the usage line).
QString helpText(const QCommandLineParser &parser, const QString &usageName);

/// For a program without command words: QCommandLineParser::process(), but --help names the
/// program rather than its path, and a wrong command line exits with ExitUsage.
/// Needs addHelpOption() and addVersionOption() on `parser`.
void processCommandLine(QCommandLineParser &parser, const QStringList &arguments);

} // namespace iptv::cli
