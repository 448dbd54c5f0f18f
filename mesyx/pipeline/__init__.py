"""The accept pipeline (DESIGN.md): route → limits → filter → encrypt → durable commit.

Protocol front ends (SMTP now; IRC and XMPP later) normalise what they receive into an
:class:`~mesyx.pipeline.inbound.InboundMessage` and hand it to
:class:`~mesyx.pipeline.deliver.Deliverer`; they acknowledge only when it returns.
"""
