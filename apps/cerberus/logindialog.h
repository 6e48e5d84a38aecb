#pragma once

// Login: server URL, account, password, and diver (the DVR server: its URL and admin token,
// optional). The server's answer (or the network's) is shown in the dialog; the URLs and account
// are remembered, never the password or the token.

#include <cerberus/controlclient.h>
#include <cerberus/diverclient.h>

#include <QDialog>

class QLabel;
class QLineEdit;
class QPushButton;

namespace cerberus::ui {

class LoginDialog : public QDialog
{
    Q_OBJECT
public:
    LoginDialog(iptv::cerberus::ControlClient *client, iptv::cerberus::DiverClient *diver, QWidget *parent = nullptr);
    void setServer(const QString &url);
    /// diver's URL; empty: no DVR page.
    void setDiver(const QString &url);
    void setDiverToken(const QString &token);
    void setAccount(const QString &account);
    /// Logs in at once with these (command line); the dialog still shows errors.
    void submit(const QString &password);

private:
    void tryLogin();

    iptv::cerberus::ControlClient *m_client;
    iptv::cerberus::DiverClient *m_diverClient;
    QLineEdit *m_server;
    QLineEdit *m_diver;
    QLineEdit *m_diverToken;
    QLineEdit *m_account;
    QLineEdit *m_password;
    QLabel *m_error;
    QPushButton *m_login;
};

} // namespace cerberus::ui
