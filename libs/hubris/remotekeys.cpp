#include "remotekeys.h"

#include <QMetaEnum>

namespace iptv::hubris {

int RemoteKeys::action(int key, int modifiers)
{
    const bool ctrl = modifiers & Qt::ControlModifier;
    if (key >= Qt::Key_0 && key <= Qt::Key_9 && !ctrl)
        return Digit0 + (key - Qt::Key_0);
    switch (key) {
    case Qt::Key_Up: return Up;
    case Qt::Key_Down: return Down;
    case Qt::Key_Left: return Left;
    case Qt::Key_Right: return Right;
    case Qt::Key_Return:
    case Qt::Key_Enter:
    case Qt::Key_Select:
    case Qt::Key_Space: return Ok;
    case Qt::Key_Escape:
    case Qt::Key_Back:
    case Qt::Key_Backspace:
    case Qt::Key_Exit: return Back;
    case Qt::Key_Menu:
    case Qt::Key_Settings:
    case Qt::Key_M: return Menu;
    case Qt::Key_Guide:
    case Qt::Key_G: return Guide;
    case Qt::Key_Info:
    case Qt::Key_I: return Info;
    case Qt::Key_Red:
    case Qt::Key_F1: return Red;
    case Qt::Key_Green:
    case Qt::Key_F2: return Green;
    case Qt::Key_Yellow:
    case Qt::Key_F3: return Yellow;
    case Qt::Key_Blue:
    case Qt::Key_F4: return Blue;
    case Qt::Key_ChannelUp:
    case Qt::Key_PageUp: return ChannelUp;
    case Qt::Key_ChannelDown:
    case Qt::Key_PageDown: return ChannelDown;
    case Qt::Key_LastNumberRedial:
    case Qt::Key_P: return PreviousChannel;
    case Qt::Key_VolumeUp:
    case Qt::Key_Plus: return VolumeUp;
    case Qt::Key_VolumeDown:
    case Qt::Key_Minus: return VolumeDown;
    case Qt::Key_VolumeMute:
    case Qt::Key_U: return Mute;
    case Qt::Key_PowerOff:
    case Qt::Key_PowerDown:
    case Qt::Key_Sleep:
    case Qt::Key_F12: return Power;
    case Qt::Key_F10: return Diagnostics;
    case Qt::Key_MediaRecord:
    case Qt::Key_R: return Record;
    case Qt::Key_MediaTogglePlayPause:
    case Qt::Key_MediaPlay:
    case Qt::Key_MediaPause:
    case Qt::Key_Pause: return PlayPause;
    default: return None;
    }
}

int RemoteKeys::digitOf(int action)
{
    return action >= Digit0 && action <= Digit9 ? action - Digit0 : -1;
}

int RemoteKeys::keyFor(int action)
{
    if (action >= Digit0 && action <= Digit9)
        return Qt::Key_0 + (action - Digit0);
    switch (action) {
    case Up: return Qt::Key_Up;
    case Down: return Qt::Key_Down;
    case Left: return Qt::Key_Left;
    case Right: return Qt::Key_Right;
    case Ok: return Qt::Key_Select;
    case Back: return Qt::Key_Back;
    case Menu: return Qt::Key_Menu;
    case Guide: return Qt::Key_Guide;
    case Info: return Qt::Key_Info;
    case Red: return Qt::Key_Red;
    case Green: return Qt::Key_Green;
    case Yellow: return Qt::Key_Yellow;
    case Blue: return Qt::Key_Blue;
    case ChannelUp: return Qt::Key_ChannelUp;
    case ChannelDown: return Qt::Key_ChannelDown;
    case PreviousChannel: return Qt::Key_LastNumberRedial;
    case VolumeUp: return Qt::Key_VolumeUp;
    case VolumeDown: return Qt::Key_VolumeDown;
    case Mute: return Qt::Key_VolumeMute;
    case Power: return Qt::Key_PowerOff;
    case Diagnostics: return Qt::Key_F10;
    case Record: return Qt::Key_MediaRecord;
    case PlayPause: return Qt::Key_MediaTogglePlayPause;
    default: return 0;
    }
}

QString RemoteKeys::name(int action)
{
    return QString::fromLatin1(QMetaEnum::fromType<Action>().valueToKey(action));
}

} // namespace iptv::hubris
