"""The embedded runtime's broker: kombu's filesystem transport, with every message published whole.

kombu's own `_put` creates the message file under its final name and writes into it after; a
worker polling at that instant moves and reads an empty file, and `json.loads('')` ends the
worker ("Unrecoverable error: JSONDecodeError"). Here a message is written under a name the
reader skips and renamed into place, which is atomic on one filesystem.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")  # its name matches no queue
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
