"""Every table of the product on the one metadata: importing this module registers them.

Alembic's environment and the app factory import it; it is part of the composition root,
so it may name `campaigns` and `tracking`, which the rest of `mailer` never imports.
"""

import campaigns.models  # noqa: F401
import mailer.contacts.models  # noqa: F401
import mailer.contacts.preferred_names  # noqa: F401
import mailer.delivery.models  # noqa: F401
import mailer.managers.models  # noqa: F401
import mailer.privacy.models  # noqa: F401
import mailer.run.models  # noqa: F401
import mailer.tags.models  # noqa: F401
import mailer.users.models  # noqa: F401
import tracking.models  # noqa: F401
