#include "logindialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

LoginDialog::LoginDialog(ControlClient *client, DiverClient *diver, QWidget *parent)
    : QDialog(parent), m_client(client), m_diverClient(diver)
{
    setWindowTitle(tr("Cerberus — sign in"));
    auto *title = new QLabel(tr("<b style='font-size:15pt'>Cerberus</b><br><span style='color:#666'>Operator console for the "
                                "IPTV control server</span>"));
    m_server = new QLineEdit;
    m_server->setPlaceholderText(u"http://127.0.0.1:8421"_qs);
    m_account = new QLineEdit;
    m_password = new QLineEdit;
    m_password->setEchoMode(QLineEdit::Password);
    m_diver = new QLineEdit;
    m_diver->setPlaceholderText(tr("optional, e.g. http://127.0.0.1:8430"));
    m_diver->setToolTip(tr("diver, the DVR server: its recordings, rules and plan appear under Recordings"));
    m_diverToken = new QLineEdit;
    m_diverToken->setEchoMode(QLineEdit::Password);
    m_diverToken->setPlaceholderText(tr("diver's [server] admin_token; none on its own machine"));
    m_error = new QLabel;
    m_error->setWordWrap(true);
    m_error->setStyleSheet(u"color:#c0392b"_qs);
    m_error->hide();
    auto *form = new QFormLayout;
    form->addRow(tr("&Server"), m_server);
    form->addRow(tr("&Account"), m_account);
    form->addRow(tr("&Password"), m_password);
    form->addRow(tr("&DVR (diver)"), m_diver);
    form->addRow(tr("DVR &token"), m_diverToken);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
    m_login = buttons->addButton(tr("Sign in"), QDialogButtonBox::AcceptRole);
    m_login->setDefault(true);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(title);
    layout->addSpacing(8);
    layout->addLayout(form);
    layout->addWidget(m_error);
    layout->addWidget(buttons);
    setMinimumWidth(420);

    QSettings s;
    m_server->setText(s.value(u"login/server"_qs, u"http://127.0.0.1:8421"_qs).toString());
    m_account->setText(s.value(u"login/account"_qs, u"admin"_qs).toString());
    m_diver->setText(s.value(u"login/diver"_qs).toString());
    (m_account->text().isEmpty() ? m_account : m_password)->setFocus();

    connect(buttons, &QDialogButtonBox::accepted, this, &LoginDialog::tryLogin);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(client, &ControlClient::loggedIn, this, [this] {
        QSettings settings;
        settings.setValue(u"login/server"_qs, m_server->text().trimmed());
        settings.setValue(u"login/account"_qs, m_account->text().trimmed());
        settings.setValue(u"login/diver"_qs, m_diver->text().trimmed());
        const QString diverText = m_diver->text().trimmed();
        m_diverClient->setServer(diverText.isEmpty() ? QUrl() : QUrl::fromUserInput(diverText), m_diverToken->text().trimmed());
        m_password->clear();
        accept();
    });
    connect(client, &ControlClient::loginFailed, this, [this](const ApiError &e) {
        m_login->setEnabled(true);
        m_error->setText(e.status == 401 ? tr("Sign-in refused: %1").arg(e.message) : e.toString());
        m_error->show();
        m_password->selectAll();
        m_password->setFocus();
    });
}

void LoginDialog::setServer(const QString &url)
{
    m_server->setText(url);
}

void LoginDialog::setDiver(const QString &url)
{
    m_diver->setText(url);
}

void LoginDialog::setDiverToken(const QString &token)
{
    m_diverToken->setText(token);
}

void LoginDialog::setAccount(const QString &account)
{
    m_account->setText(account);
}

void LoginDialog::submit(const QString &password)
{
    m_password->setText(password);
    tryLogin();
}

void LoginDialog::tryLogin()
{
    const QUrl url = QUrl::fromUserInput(m_server->text().trimmed());
    if (!url.isValid() || url.host().isEmpty()) {
        m_error->setText(tr("Server: enter a URL like http://controlserver:8421"));
        m_error->show();
        return;
    }
    if (const QString d = m_diver->text().trimmed(); !d.isEmpty()) {
        const QUrl diver = QUrl::fromUserInput(d);
        if (!diver.isValid() || diver.host().isEmpty()) {
            m_error->setText(tr("DVR (diver): enter a URL like http://diver:8430, or leave it empty"));
            m_error->show();
            return;
        }
    }
    m_error->hide();
    m_login->setEnabled(false);
    m_client->login(url, m_account->text().trimmed(), m_password->text());
}

} // namespace cerberus::ui
