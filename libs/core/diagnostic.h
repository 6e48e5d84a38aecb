#pragma once

#include <QList>
#include <QString>
#include <QtGlobal>

namespace iptv {

/// One problem found in input: what, where (source, line, column) and why.
/// Readers collect these and go on with the good part of the input.
struct Diagnostic
{
    enum class Severity : quint8 { Warning, Error };
    Severity severity = Severity::Error;
    QString source;   ///< file name or URL
    qint64 line = 0;  ///< 1-based; 0 when not known
    qint64 column = 0;
    QString message;
    /// An error that ended the read: what came after it was not read (truncated or undecodable
    /// input, an I/O error). The data read before it is incomplete and must not replace good data.
    bool fatal = false;

    /// "source:line:column: error: message" ("fatal error" for a fatal one), the form compilers
    /// use, so editors can jump to it.
    QString toString() const;
};

/// Collects diagnostics up to a cap so that a hopeless input cannot fill memory with them;
/// the count of everything seen is kept so a report can say how many were dropped.
/// Fatal errors are listed first and always kept, so the reason a read ended is never hidden
/// behind (or dropped after) the warnings that came before it.
class DiagnosticList
{
public:
    explicit DiagnosticList(qsizetype cap = 1000) : m_cap(cap) {}

    void add(Diagnostic d);
    void warning(const QString &source, qint64 line, qint64 column, const QString &message);
    void error(const QString &source, qint64 line, qint64 column, const QString &message);
    /// An error that ended the read (see Diagnostic::fatal).
    void fatal(const QString &source, qint64 line, qint64 column, const QString &message);

    const QList<Diagnostic> &items() const { return m_items; }
    qsizetype errorCount() const { return m_errors; }
    qsizetype warningCount() const { return m_warnings; }
    qsizetype total() const { return m_errors + m_warnings; }
    bool isEmpty() const { return total() == 0; }
    qsizetype fatalCount() const { return m_fatal; }
    bool hasFatal() const { return m_fatal > 0; }
    /// The first fatal error, or nullptr.
    const Diagnostic *firstFatal() const;
    QString summary() const;

private:
    QList<Diagnostic> m_items;
    qsizetype m_cap;
    qsizetype m_errors = 0;
    qsizetype m_warnings = 0;
    qsizetype m_fatal = 0;
};

} // namespace iptv
