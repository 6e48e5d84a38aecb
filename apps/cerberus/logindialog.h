#pragma once

// Login: server URL, account, password. The server's answer (or the network's) is shown in the
// dialog; the URL and account are remembered, never the password.

#include <cerberus/controlclient.h>

#include <QDialog>

class QLabel;
class QLineEdit;
class QPushButton;

namespace cerberus::ui {

class LoginDialog : public QDialog
{
    Q_OBJECT
public:
    LoginDialog(iptv::cerberus::ControlClient *client, QWidget *parent = nullptr);
    void setServer(const QString &url);
    void setAccount(const QString &account);
    /// Logs in at once with these (command line); the dialog still shows errors.
    void submit(const QString &password);

private:
    void tryLogin();

    iptv::cerberus::ControlClient *m_client;
    QLineEdit *m_server;
    QLineEdit *m_account;
    QLineEdit *m_password;
    QLabel *m_error;
    QPushButton *m_login;
};

} // namespace cerberus::ui
