#include "diagnostic.h"

namespace iptv {

QString Diagnostic::toString() const
{
    QString where = source.isEmpty() ? QStringLiteral("<input>") : source;
    if (line > 0) {
        where += u':' + QString::number(line);
        if (column > 0)
            where += u':' + QString::number(column);
    }
    const auto kind = severity == Severity::Warning ? QStringLiteral("warning")
        : fatal                                     ? QStringLiteral("fatal error")
                                                    : QStringLiteral("error");
    return where + u": " + kind + u": " + message;
}

void DiagnosticList::add(Diagnostic d)
{
    if (d.severity == Diagnostic::Severity::Error)
        ++m_errors;
    else
        ++m_warnings;
    if (d.fatal) {
        // After the fatal errors already listed, before everything else; past the cap the
        // last non-fatal item makes room.
        d.severity = Diagnostic::Severity::Error;
        if (m_items.size() >= m_cap && m_items.size() > m_fatal)
            m_items.removeLast();
        m_items.insert(qMin(m_fatal, m_items.size()), std::move(d));
        ++m_fatal;
        return;
    }
    if (m_items.size() < m_cap)
        m_items.append(std::move(d));
}

void DiagnosticList::warning(const QString &source, qint64 line, qint64 column, const QString &message)
{
    add({Diagnostic::Severity::Warning, source, line, column, message});
}

void DiagnosticList::error(const QString &source, qint64 line, qint64 column, const QString &message)
{
    add({Diagnostic::Severity::Error, source, line, column, message});
}

void DiagnosticList::fatal(const QString &source, qint64 line, qint64 column, const QString &message)
{
    add({Diagnostic::Severity::Error, source, line, column, message, true});
}

const Diagnostic *DiagnosticList::firstFatal() const
{
    return m_fatal > 0 && !m_items.isEmpty() && m_items.first().fatal ? &m_items.first() : nullptr;
}

QString DiagnosticList::summary() const
{
    QString s = QString::number(m_errors) + u" error(s)";
    if (m_fatal > 0)
        s += u" (" + QString::number(m_fatal) + u" fatal)";
    s += u", " + QString::number(m_warnings) + u" warning(s)";
    if (total() > m_items.size())
        s += u" (" + QString::number(total() - m_items.size()) + u" not listed)";
    return s;
}

} // namespace iptv
