#pragma once

// One key vocabulary for every remote: an IR or CEC remote's keys (Qt's Key_ChannelUp, Key_Guide,
// Key_Red ...), a keyboard (the simulator, a debug session) and the simulator's on-screen remote
// all become the same actions, so QML handles actions, never raw keys.

#include <QObject>

namespace iptv::hubris {

class RemoteKeys : public QObject
{
    Q_OBJECT
public:
    enum Action {
        None,
        Up, Down, Left, Right, Ok, Back,
        Menu, Guide, Info,
        Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9,
        Red, Green, Yellow, Blue,
        ChannelUp, ChannelDown, PreviousChannel,
        VolumeUp, VolumeDown, Mute, Power,
        Diagnostics, ///< development builds: the diagnostics overlay
        Record, PlayPause, ///< a remote's REC and play/pause keys (R and the Pause key on a keyboard)
    };
    Q_ENUM(Action)

    using QObject::QObject;

    /// The action of a key event (Qt::Key and modifiers); None for keys that mean nothing here.
    Q_INVOKABLE static int action(int key, int modifiers = 0);
    /// 0-9 for digit actions, -1 otherwise.
    Q_INVOKABLE static int digitOf(int action);
    /// The key a simulator button sends for an action (the remote's own key where Qt has one).
    Q_INVOKABLE static int keyFor(int action);
    Q_INVOKABLE static QString name(int action);
};

} // namespace iptv::hubris
