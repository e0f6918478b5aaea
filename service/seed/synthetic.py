"""Synthetic IN/KR partner registries with planted complementary pairs.

Used by ``matchmaker seed --synthetic N [--random-seed S]`` to build registries of
10,000 to 1,000,000 profiles for benchmarks, with a known set of complementary
(IN, KR) pairs so that matching quality can be measured at scale.

Design
------
* **Offer concepts.**  Every sector has a vocabulary of ``Concept`` entries.  A concept
  is one thing an organisation can offer, written twice: a *capability* phrasing (a noun
  phrase, as a provider describes it) and a *need* phrasing (a verb phrase, as a seeker
  describes it, in deliberately different words), plus a short tag.  Capabilities texts
  are built from capability phrasings, needs texts from need phrasings, so a matcher has
  to bridge vocabulary rather than copy strings.
* **Planted pairs.**  About ``planted_fraction * n`` (IN, KR) pairs share a primary
  sector; the concepts of that sector are split into disjoint offer sets A and B, and
  A's needs are drawn only from B's offers and B's needs only from A's offers.  Both
  also share at least one partnership type.  All other profiles draw offers and needs at
  random (needs never repeat their own offers; some are generic, e.g. regulatory help),
  so full mutual complementarity is rare outside the planted pairs.
* **Names.**  Names are combinatorial (root x optional modifier x sector word x legal
  suffix for companies; root x institution pattern for institutes and universities;
  state/province x field x body for agencies).  They are unique per country after
  case-folding and whitespace collapse: a taken name is redrawn a few times, then gets a
  regional qualifier, then a Roman numeral.  Websites are unique slugs.
* **Determinism.**  All randomness comes from one ``random.Random(random_seed)``; no
  global random state, no clock, no iteration over sets.  The same ``(n, random_seed,
  planted_fraction)`` always gives identical output.
* **Scale.**  Countries and planted pairs are planned first (a few integers per
  profile); profiles are then produced one by one.  ``stream`` exposes that iterator so
  very large registries can be written out without holding every profile in memory;
  ``generate`` simply materialises it.
"""

from __future__ import annotations

import csv
import gc
import math
import os
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from service.sectors import SECTOR_CODES as SECTORS
from service.vocab import COUNTRIES, ORG_TYPES, PARTNERSHIP_TYPES

__all__ = [
    "COUNTRIES",
    "ORG_TYPES",
    "PARTNERSHIP_TYPES",
    "SECTORS",
    "SyntheticSet",
    "generate",
    "stream",
    "write_planted_pairs",
]

# Text length targets (the validator's hard limits are wider: 20-5000).
CAPABILITIES_CHARS = (250, 1200)
NEEDS_CHARS = (150, 900)
_MAX_CAP_SENTENCES = 6
_MAX_NEED_SENTENCES = 4


class Concept(NamedTuple):
    """One offer: how a provider describes it, how a seeker asks for it, and a tag."""

    capability: str
    need: str
    tag: str


class SectorVocab(NamedTuple):
    """Per-sector vocabulary."""

    noun: str  # "semiconductor company"
    focus: str  # lower-case field description used in intros
    fields: tuple[str, ...]  # title-case field names for institutions
    name_words: tuple[str, ...]  # sector words for company names
    startup_words: tuple[str, ...]
    concepts: tuple[Concept, ...]
    facilities: tuple[str, ...]
    certifications: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticSet:
    """Generated profiles plus the planted complementary (IN index, KR index) pairs."""

    profiles: list[dict]
    planted_pairs: list[tuple[int, int]]


# --------------------------------------------------------------------------------------
# Vocabulary text blocks
# --------------------------------------------------------------------------------------


def _items(text: str) -> tuple[str, ...]:
    """Split a ``|``-separated block into items, collapsing whitespace inside each item."""
    return tuple(" ".join(part.split()) for part in text.split("|") if part.strip())


def _concepts(block: str) -> tuple[Concept, ...]:
    """Parse concept entries written as three lines: ``= tag``, ``+ capability``, ``- need``."""
    fields: dict[str, str] = {}
    concepts: list[Concept] = []
    for line in block.strip().splitlines():
        marker, text = line.strip()[:1], line.strip()[1:].strip()
        if marker not in "=+-" or not text or marker in fields:
            raise ValueError(f"malformed concept line: {line!r}")
        fields[marker] = text
        if len(fields) == 3:
            concepts.append(Concept(capability=fields["+"], need=fields["-"], tag=fields["="]))
            fields = {}
    if fields:
        raise ValueError(f"incomplete concept entry: {fields}")
    return tuple(concepts)


# --------------------------------------------------------------------------------------
# Sector vocabularies
# --------------------------------------------------------------------------------------

_SEMICONDUCTORS = SectorVocab(
    noun="semiconductor company",
    focus="chip design, packaging and semiconductor materials",
    fields=_items("Semiconductor Technology | Microelectronics | Nanoelectronics"),
    name_words=_items(
        """
        Semiconductors | Microsystems | Semitech | Microelectronics | Silicon | Chip Technologies |
        Electronic Materials | Semicon | Wafer Technologies | Nanotech | Silicon Systems | Micro
        Devices | Packaging Technologies | Circuits
        """
    ),
    startup_words=_items("Silicon | Semi | Chips | Microsystems | Semitech | Nano Labs"),
    concepts=_concepts(
        """
        = wafer-level packaging
        + flip-chip and fan-out wafer-level packaging for mobile and automotive dies
        - turn our bare dies into compact high-density packages via an outside assembly house
        = osat
        + OSAT services covering wire bonding, moulding and final test of QFN and BGA packages
        - secure outsourced back-end capacity to encapsulate and test our chips in volume
        = photoresists
        + KrF and ArF photoresists made from in-house synthesised polymers
        - qualify a second source of light-sensitive coating chemicals for our lithography
        = cmp slurries
        + CMP slurries and post-CMP cleaning chemistries for copper and oxide layers
        - obtain polishing consumables that flatten wafers to fab purity specifications
        = specialty gases
        + ultra-high-purity electronic gases such as NF3, WF6 and high-purity ammonia
        - lock in a dependable supply of process gases for deposition and chamber cleaning
        = mixed-signal design
        + 28nm mixed-signal ASIC design and tape-out services
        - outsource custom chips that combine analog front ends with digital logic
        = eda
        + EDA flows for physical verification, timing signoff and DFT insertion
        - get chip-design software and signoff methodology know-how for our design teams
        = sic gan power
        + silicon carbide MOSFETs and GaN HEMT power devices
        - buy wide-bandgap switching transistors for inverters and fast chargers
        = memory
        + DRAM and NAND module assembly with burn-in testing
        - source memory components along with memory-module engineering support
        = foundry
        + 300mm specialty-node fab process integration from 40nm to 90nm
        - bring in foundry engineers to help ramp a mature-node production line
        = test equipment
        + probe cards, automated test handlers and ATE load boards
        - procure tools to probe wafers and sort finished chips
        = rf ics
        + RF front-end modules and mmWave beamforming ICs
        - obtain radio chipsets for 5G small cells and satellite terminals
        = display drivers
        + display driver ICs and touch controller chips
        - source the chips that drive our OLED and LCD panels
        = image sensors
        + backside-illuminated CMOS image sensor design
        - license camera-sensor technology for our vision products
        = mems
        + MEMS pressure, inertial and microphone sensors
        - find makers of micro-machined sensing elements for our modules
        = wafers
        + silicon and SiC substrate polishing, epitaxy and wafer reclaim
        - secure bare substrates and epitaxial layers for device fabrication
        = sputtering targets
        + sputtering targets and high-purity metal precursors
        - source ultra-pure metals for thin-film deposition
        = cleanroom
        + cleanroom design-build and fab engineering from class 100 to class 10,000
        - plan and construct contamination-controlled production space for a new plant
        = risc-v
        + RISC-V processor cores and SoC integration services
        - adopt an open instruction-set CPU and integrate it into our system-on-chip
        = automotive mcu
        + AEC-Q100 qualified automotive microcontrollers
        - secure vehicle-grade controllers for our electronic control units
        = chiplets
        + chiplet interconnect and 2.5D silicon interposer technology
        - split large designs into smaller dies joined inside one package
        = yield analytics
        + yield analytics software with inline defect classification
        - raise production yields by mining our fab and test data
        = hbm
        + high-bandwidth memory stacking with through-silicon vias
        - access stacked DRAM for the AI accelerators we are designing
        = photomasks
        + photomask writing and reticle inspection services
        - find a mask shop that can supply reticles for our lithography
        = pmic
        + analog and power-management IC design including PMICs, LDOs and battery chargers
        - get custom voltage-regulation chips designed for our boards
        = equipment services
        + refurbishment and spare parts for legacy deposition and etch tools
        - keep older fab equipment running with parts and field service engineers
        """
    ),
    facilities=_items(
        """
        a class 100 cleanroom | a 200mm pilot fab | a 300mm process development line | an OSAT
        assembly and test floor | a failure-analysis lab with FIB and SEM | a chemical blending
        plant with ppt-level purity control | a reliability lab for HAST and temperature cycling | a
        chip design centre with 400 EDA seats | a wafer bumping line | a gas purification and
        cylinder-filling facility | a photomask shop | an RF characterisation lab
        """
    ),
    certifications=_items(
        """
        ISO 9001 | IATF 16949 | ISO 14001 | AEC-Q100 | JEDEC JESD47 | ISO 26262 ASIL-D | SEMI S2 |
        ISO/IEC 17025 | ISO 45001
        """
    ),
)

_AI = SectorVocab(
    noun="AI software company",
    focus="applied machine learning and language technology",
    fields=_items("Artificial Intelligence | Machine Intelligence | Data Science"),
    name_words=_items(
        """
        AI | Intelligence | Analytics | Data Systems | Cognitive Technologies | Machine Learning |
        Vision Systems | Neural Labs | Infotech | Digital | Data Labs | Robotics | Language
        Technologies
        """
    ),
    startup_words=_items("AI | Labs | Minds | Vision | Analytics | Robotics | Data | Neural"),
    concepts=_concepts(
        """
        = llm
        + LLM fine-tuning and retrieval-augmented generation pipelines
        - adapt large language models to our proprietary documents and workflows
        = indic nlp
        + Indic-language NLP models for Hindi, Tamil, Telugu and Bengali
        - make our software understand and answer in Indian regional languages
        = korean nlp
        + Korean-language NLP and morphological analysis engines
        - make our chatbots and search work properly for Korean speakers
        = machine vision
        + computer vision for factory inspection and surface-defect detection
        - automatically spot faulty parts on our production lines using cameras
        = data annotation
        + data annotation and labelling services with a trained workforce of thousands
        - get large volumes of training examples tagged accurately and affordably
        = gpu cloud
        + GPU clusters and sovereign AI cloud capacity
        - rent high-end accelerator compute for training our models
        = mlops
        + MLOps platforms for model deployment, monitoring and drift detection
        - put our machine-learning models into production and keep them healthy
        = speech ai
        + speech recognition and text-to-speech engines
        - add voice input and spoken output to our products
        = predictive maintenance
        + predictive maintenance analytics for rotating equipment
        - anticipate machine breakdowns before they stop our plants
        = edge ai
        + edge AI inference on low-power embedded hardware
        - run trained models on small devices without a cloud connection
        = ai compilers
        + compiler and runtime software stacks for AI accelerators
        - make popular ML frameworks run efficiently on our custom silicon
        = perception
        + autonomous-driving perception stacks fusing camera, radar and lidar
        - give our vehicles the ability to understand their surroundings
        = document ai
        + multilingual document AI for OCR and form extraction
        - digitise paper-heavy processes such as invoices and shipping records
        = synthetic data
        + synthetic data generation and simulation for model training
        - create realistic artificial datasets where real examples are scarce
        = robot learning
        + robot motion planning and reinforcement learning for manipulation
        - make our industrial robots pick and assemble parts more flexibly
        = energy forecasting
        + AI forecasting for renewable generation and electricity demand
        - predict solar, wind and load profiles for grid scheduling
        = ai governance
        + AI safety evaluation, red-teaming and model governance tooling
        - audit our models for bias, robustness and regulatory compliance
        = semantic search
        + vector databases and semantic search engines
        - let users find information by meaning rather than exact keywords
        = geospatial ai
        + geospatial AI for satellite and drone imagery analytics
        - extract insights from aerial and satellite pictures at scale
        = conversational ai
        + conversational agents for customer service and field support
        - automate routine customer queries with virtual assistants
        = privacy ml
        + federated learning and privacy-preserving machine learning
        - train models on sensitive records without moving them off our premises
        = ml for eda
        + machine-learning-driven chip layout and design-space optimisation
        - shorten our silicon design cycles with data-driven automation
        = digital twin
        + physics-informed digital twins of plants and machines
        - simulate our equipment virtually to test changes before making them
        = anomaly detection
        + time-series anomaly detection for manufacturing and process data
        - catch unusual sensor behaviour on our lines in real time
        = ot security
        + AI-based cyber threat detection for industrial control systems
        - protect our plant networks against intrusions using smart monitoring
        = code ai
        + foundation models for code generation and developer productivity
        - speed up our software teams with automated programming assistance
        """
    ),
    facilities=_items(
        """
        a 512-GPU training cluster | an annotation centre with 2,000 trained labellers | a robotics
        test bay | a data centre with liquid-cooled racks | an applied research lab | a secure
        on-premise data enclave | a speech recording studio | a vision lab with industrial camera
        rigs | a product engineering centre | an edge hardware prototyping lab | a model evaluation
        lab
        """
    ),
    certifications=_items(
        """
        ISO/IEC 27001 | SOC 2 Type II | ISO/IEC 42001 | ISO 9001 | ISO/IEC 27701 | CMMI Level 5 |
        GDPR-aligned data processing | ISO/IEC 20000-1
        """
    ),
)

_CLEAN_ENERGY = SectorVocab(
    noun="clean-energy company",
    focus="batteries, hydrogen and grid technologies",
    fields=_items("Energy Storage | Hydrogen Energy | Renewable Energy | Battery Science"),
    name_words=_items(
        """
        Energy | Cell Technologies | Power Systems | Renewables | Green Energy | Battery Systems |
        Hydrogen | Solar | Energy Solutions | Power | Electrochem | Storage Systems | Grid
        Technologies
        """
    ),
    startup_words=_items("Energy | Cells | Volt | Hydrogen | Grid | Power Labs | Solar"),
    concepts=_concepts(
        """
        = lfp cells
        + LFP prismatic and pouch cells for stationary storage
        - buy iron-phosphate battery cells in volume for our storage projects
        = ncm cathode
        + high-nickel NCM cathode active materials
        - obtain nickel-rich positive-electrode powders for our cell lines
        = electrolysers
        + alkaline and PEM electrolysers for green hydrogen production
        - acquire water-splitting equipment to make renewable hydrogen
        = fuel cells
        + PEM fuel cell stacks for buses and heavy trucks
        - power our heavy vehicles with hydrogen instead of diesel
        = bess
        + grid-scale battery energy storage systems with integrated energy management
        - firm up renewable output with utility-size storage
        = hvdc
        + HVDC converter stations and high-power electronics
        - move bulk power over long distances using direct current
        = solar modules
        + TOPCon and heterojunction solar modules
        - procure high-efficiency photovoltaic panels for utility projects
        = solar manufacturing
        + turnkey solar ingot, wafer and cell production lines
        - set up domestic photovoltaic manufacturing from the ingot stage upwards
        = offshore wind
        + offshore wind monopiles, jackets and transition pieces
        - supply the substructures that anchor wind turbines at sea
        = bms
        + battery management systems and active cell-balancing electronics
        - monitor and protect our battery packs with smarter electronics
        = battery recycling
        + hydrometallurgical battery recycling recovering lithium, nickel and cobalt
        - recover valuable metals from end-of-life battery packs
        = anode materials
        + graphite and silicon-carbon anode materials
        - secure negative-electrode material for cell production
        = separators
        + lithium-ion separators and electrolyte formulations
        - source the membranes and liquid chemistry that go inside our cells
        = solar inverters
        + string and central solar inverters
        - buy power-conversion gear for our PV plants
        = green ammonia
        + green ammonia synthesis and hydrogen carrier technology
        - ship and store hydrogen in an easily transportable liquid form
        = smart grid
        + smart-grid SCADA and distribution automation
        - digitise and automate our power distribution network
        = nuclear
        + nuclear-grade forgings and small modular reactor components
        - qualify suppliers for next-generation reactor hardware
        = ev charging
        + DC fast chargers up to 350 kW and charging network software
        - roll out high-power public charging for electric vehicles
        = sodium-ion
        + sodium-ion cell chemistry and pilot production
        - explore cheaper battery chemistries that do not depend on lithium
        = solid-state battery
        + solid-state electrolytes and prototype solid-state cells
        - develop safer, non-flammable next-generation batteries
        = cell equipment
        + electrode coaters, stacking machines and formation equipment for gigafactories
        - equip a new battery plant with production machinery
        = long-duration storage
        + long-duration storage engineering for pumped hydro and compressed air
        - store renewable energy for many hours or days at low cost
        = grid equipment
        + power transformers and gas-insulated switchgear
        - expand substation hardware for a growing transmission grid
        = biogas
        + compressed biogas plants based on anaerobic digestion
        - turn agricultural residue into clean vehicle fuel
        = hydrogen storage
        + Type IV composite hydrogen storage tanks
        - store compressed hydrogen safely on vehicles and at refuelling stations
        = renewable epc
        + EPC services for hybrid solar-wind-storage parks
        - hand off engineering and construction of combined renewable plants
        """
    ),
    facilities=_items(
        """
        a 5 GWh cell gigafactory | a cathode precursor plant | an electrolyser stack assembly line |
        a battery pack assembly line | a cell testing and abuse-testing lab | a 1.2 GW module
        factory | a hydrogen refuelling test station | a recycling plant processing 10,000 tonnes of
        black mass a year | a power-hardware-in-the-loop grid lab | a dry room for cell prototyping
        | a monopile fabrication yard | a transformer manufacturing plant
        """
    ),
    certifications=_items(
        """
        IEC 62619 | UL 9540A | IEC 61215 | IEC 61730 | UN 38.3 | ISO 14001 | ISO 9001 | IATF 16949 |
        ISO 50001 | IEC 62933
        """
    ),
)

_SHIPBUILDING = SectorVocab(
    noun="shipbuilder and marine engineering firm",
    focus="naval architecture and marine engineering",
    fields=_items("Marine Engineering | Ocean Systems | Naval Architecture"),
    name_words=_items(
        """
        Marine Systems | Shipbuilding | Heavy Industries | Shipyard | Marine Engineering | Offshore
        | Ocean Technologies | Marine | Naval Engineering | Dockyard | Maritime
        """
    ),
    startup_words=_items("Marine | Ocean | Maritime | Nautics | Seatech"),
    concepts=_concepts(
        """
        = lng carriers
        + LNG carriers with membrane cargo containment systems
        - add liquefied-gas tanker construction to our order book with a seasoned builder
        = hull blocks
        + hull block fabrication and pre-outfitting
        - subcontract the assembly of steel hull sections for our vessels
        = alternative fuels
        + ammonia-ready and methanol dual-fuel propulsion packages
        - convert our vessel designs to run on low-carbon alternative fuels
        = ship repair
        + ship repair, conversion and dry-docking services
        - get our ships overhauled in a well-equipped yard close to our trade routes
        = naval architecture
        + naval architecture and hull-form CFD optimisation
        - redesign our hull lines to cut resistance and fuel burn
        = marine engines
        + marine two-stroke and dual-fuel engines
        - source main engines for new-build vessels
        = container ships
        + container ship newbuilding up to 24,000 TEU
        - order large box ships for our liner fleet
        = offshore
        + FPSO topsides, offshore jackets and platform modules
        - fabricate floating production units for offshore oil and gas fields
        = smart ship
        + integrated bridge systems and autonomous navigation software
        - add smart navigation and remote monitoring to our fleet
        = propellers
        + fixed-pitch and controllable-pitch propellers and shafting
        - buy propulsion hardware that turns engine power into thrust
        = welding automation
        + welding automation robots for shipyard panel lines
        - mechanise the welding work on our yard floor
        = cryogenic insulation
        + cryogenic insulation panels for cargo tanks
        - keep super-cold cargo from warming up during long voyages
        = harbour craft
        + tugboats, dredgers and harbour craft
        - acquire small working vessels for port and river operations
        = ballast water
        + ballast water treatment systems
        - meet international ballast discharge rules on our ships
        = digital shipyard
        + digital shipyard planning and production digital-twin software
        - plan and track yard operations digitally to cut build times
        = electric ferries
        + battery-electric and hybrid ferries
        - electrify our short-sea passenger and vehicle services
        = emission control
        + exhaust gas scrubbers and SCR after-treatment
        - cut sulphur and nitrogen-oxide emissions from our vessels
        = deck machinery
        + deck machinery including winches, cranes and mooring systems
        - equip our vessels with cargo-handling and berthing gear
        = plate forming
        + CNC plate cutting, bending and curved-shell forming
        - outsource the shaping of heavy steel plate for curved hull parts
        = lng bunkering
        + LNG bunkering vessels and ship-to-ship transfer systems
        - refuel gas-powered ships at sea and in port
        = naval auxiliaries
        + fleet support tankers and naval auxiliary vessels
        - build replenishment and logistics ships for a navy
        = outfitting
        + marine HVAC and accommodation outfitting
        - fit out crew and passenger spaces to international standards
        = research vessels
        + research and fisheries vessels
        - commission specialised ships for ocean science and fishing
        = ship recycling
        + ship recycling compliant with the Hong Kong Convention
        - dismantle end-of-life ships in an environmentally sound way
        = hydrogen propulsion
        + hydrogen fuel-cell propulsion for inland and coastal craft
        - run our river and coastal boats on zero-emission power
        = wind-assisted propulsion
        + rotor sails and wind-assisted propulsion retrofits
        - harness the wind to lower the fuel bill of our existing ships
        """
    ),
    facilities=_items(
        """
        a 640-metre dry dock | a 900-tonne Goliath crane | a hull block fabrication shop | a panel
        line with robotic welding | an outfitting quay | a towing tank | a floating dock | a
        pipe-spool fabrication shop | a ship repair yard with two slipways | a marine engine test
        bed | an offshore module yard | a paint and blasting hall
        """
    ),
    certifications=_items(
        """
        DNV type approval | Lloyd's Register approval | ABS certification | Korean Register approval
        | Indian Register of Shipping approval | ISO 9001 | ISO 3834-2 | ISO 14001 | ISO 45001
        """
    ),
)

_DEFENCE = SectorVocab(
    noun="defence manufacturer",
    focus="defence electronics, munitions and land systems",
    fields=_items("Defence Technology | Strategic Systems | Aerospace and Defence"),
    name_words=_items(
        """
        Defence Systems | Aerospace | Defence Technologies | Precision Systems | Dynamics |
        Strategic Systems | Armaments | Avionics | Tactical Systems | Ordnance | Defence Electronics
        """
    ),
    startup_words=_items("Defence | Dynamics | Aero | Drones | Tactical | Autonomy"),
    concepts=_concepts(
        """
        = artillery
        + 155mm towed and self-propelled artillery systems
        - strengthen our long-range fire support line-up with proven gun systems
        = radar
        + AESA fire-control and surveillance radars
        - detect and track air and surface targets at long range
        = armoured vehicles
        + tracked infantry fighting vehicles and wheeled armoured vehicles
        - field protected mobility platforms for mechanised forces
        = propellants
        + solid rocket propellants and energetic materials
        - secure a domestic source of explosives and rocket-motor fuel
        = small arms
        + small-calibre ammunition and small arms production
        - build up capacity for rifles and the rounds they fire
        = electronic warfare
        + electronic warfare suites and signals-intelligence receivers
        - jam, intercept and analyse hostile radio emissions
        = uav
        + tactical UAVs and loitering munitions
        - acquire unmanned aircraft for surveillance and precision strike
        = thermal imaging
        + thermal imaging and night-vision sights
        - let soldiers and vehicles see in darkness and smoke
        = combat systems
        + naval combat management systems
        - tie shipboard sensors and weapons together under one command software
        = sonar
        + hull-mounted and towed sonar arrays
        - find submarines and mines using underwater acoustics
        = tactical radios
        + software-defined tactical radios with secure waveforms
        - give units encrypted, jam-resistant battlefield communications
        = guidance
        + missile seekers and inertial navigation units
        - steer munitions precisely onto their targets
        = ballistic protection
        + ceramic and composite ballistic armour
        - protect personnel and vehicles against bullets and fragments
        = rugged electronics
        + MIL-STD-810 ruggedised computers and displays
        - obtain electronics that survive shock, vibration and extreme temperatures
        = simulation
        + combat simulators and virtual training systems
        - train crews realistically without live firing
        = counter-uas
        + counter-drone detection and neutralisation systems
        - defend bases and convoys against small hostile drones
        = submarines
        + submarine components and air-independent propulsion modules
        - extend the underwater endurance of our submarine programmes
        = mro
        + military aircraft and engine MRO
        - keep defence aircraft fleets mission-ready through maintenance and overhaul
        = munitions
        + artillery shells, fuzes and charge systems
        - increase output of large-calibre rounds and the devices that detonate them
        = air defence
        + short-range air defence systems
        - shield troops and critical sites from low-flying aerial threats
        = space isr
        + small satellites for intelligence, surveillance and reconnaissance
        - watch wide areas from orbit with our own space assets
        = eod robots
        + explosive ordnance disposal robots
        - let bomb-disposal teams deal with hazards from a safe distance
        = aerostructures
        + precision-machined aerostructures and landing-gear parts
        - outsource complex metal parts for military aircraft
        = gun barrels
        + gun barrels made by rotary forging and autofrettage
        - produce durable cannon tubes locally
        = c4isr
        + C4ISR integration and battlefield management systems
        - link our sensors, commanders and shooters into one network
        = military trucks
        + high-mobility military trucks and logistics vehicles
        - move troops and supplies across rough terrain
        """
    ),
    facilities=_items(
        """
        a ballistics test range | an explosives filling plant | an EMI/EMC test chamber | a radar
        near-field test range | an armoured vehicle assembly hall | a secure systems-integration lab
        | a propellant mixing and casting plant | an environmental test lab for MIL-STD
        qualification | a UAV flight-test site | a precision machining centre with 5-axis CNC | a
        forge shop for gun barrels | an anechoic chamber
        """
    ),
    certifications=_items(
        """
        AS9100D | MIL-STD-810H qualification | NATO AQAP-2110 | ISO 9001 | DO-178C | DO-254 |
        MIL-STD-461G | ISO/IEC 27001 | ITAR-free product design
        """
    ),
)

_AUTOMOTIVE = SectorVocab(
    noun="automotive supplier",
    focus="electric mobility and automotive engineering",
    fields=_items("Automotive Engineering | Electric Mobility | Vehicle Technology"),
    name_words=_items(
        """
        Auto Components | Motors | Mobility | Automotive | E-Mobility | Drive Systems | Precision
        Castings | Forgings | Autotech | Vehicle Systems | Electric Vehicles | Powertrain
        """
    ),
    startup_words=_items("Mobility | EV | Motors | Drive | Moto | Autonomy"),
    concepts=_concepts(
        """
        = e-axle
        + integrated EV e-axles combining motor, inverter and gearbox
        - electrify our vehicle platforms with a compact drive unit
        = two-wheeler motors
        + BLDC hub motors and controllers for electric two-wheelers
        - put efficient electric drive into our scooters and motorcycles
        = ev battery packs
        + EV battery packs with liquid thermal management
        - source complete traction batteries for our electric models
        = adas
        + ADAS camera and radar modules
        - add driver-assistance features such as lane keeping and emergency braking
        = forgings
        + precision forgings and castings for chassis and powertrain
        - outsource heavy formed metal parts for axles, knuckles and crankshafts
        = wiring harness
        + wiring harnesses and high-voltage cable assemblies
        - supply the electrical wiring that connects vehicle systems
        = automotive lighting
        + LED headlamps and adaptive lighting modules
        - modernise vehicle lighting with brighter, smarter lamps
        = telematics
        + infotainment head units and telematics control units
        - connect our cars to drivers' phones and to the cloud
        = die casting
        + high-pressure aluminium die-cast structural parts
        - cut vehicle weight by replacing welded steel assemblies
        = thermal management
        + EV thermal management with heat pumps and chillers
        - keep batteries and cabins at the right temperature efficiently
        = braking
        + ABS, ESC and regenerative brake systems
        - improve stopping performance and recover braking energy
        = interiors
        + seating systems and interior trim modules
        - procure comfortable, lightweight cabin interiors
        = autosar
        + AUTOSAR-compliant embedded software and ECU integration
        - get vehicle control software written to industry architecture standards
        = three-wheelers
        + electric three-wheeler platforms for passenger and cargo use
        - launch electric auto-rickshaws and last-mile cargo carriers
        = fcev
        + fuel-cell vehicle components and hydrogen balance-of-plant
        - build hydrogen-powered vehicles
        = homologation
        + vehicle testing, validation and homologation services
        - get our vehicles certified for sale in new markets
        = transmissions
        + precision gears and transmission assemblies
        - source geared drivetrain parts made to tight tolerances
        = steering
        + electric power steering systems
        - replace hydraulic steering with electrically assisted units
        = motor components
        + motor stators, hairpin windings and rotor assemblies
        - localise the production of electric-motor cores
        = onboard chargers
        + onboard chargers and DC-DC converters
        - charge vehicle batteries from the grid and power low-voltage systems
        = tooling
        + press tools, dies and body-in-white fixtures
        - tool up a new body shop for sheet-metal parts
        = ota
        + over-the-air update and connected-vehicle platforms
        - update car software remotely and collect fleet data
        = farm equipment
        + tractor and farm equipment drivelines
        - expand our agricultural machinery range
        = automotive glass
        + laminated and tempered automotive glass
        - source windscreens and side windows
        = electric buses
        + electric bus platforms and low-floor chassis
        - electrify city bus fleets
        = tyres
        + tyre compounds and tread designs for EVs
        - get tyres that cope with the weight and torque of electric vehicles
        """
    ),
    facilities=_items(
        """
        a press shop with 2,000-tonne servo presses | a motor assembly line | a battery pack
        assembly plant | a vehicle dynamics proving ground | an aluminium die-casting foundry | a
        forging plant | a paint shop | a software development centre | a climatic wind tunnel | a
        component validation lab | a two-wheeler assembly plant | a harness plant
        """
    ),
    certifications=_items(
        """
        IATF 16949 | ISO 26262 | ASPICE Level 2 | ISO 14001 | ISO/SAE 21434 | UNECE R155 | AIS-156 |
        ISO 9001 | ISO 45001
        """
    ),
)

_STEEL_MATERIALS = SectorVocab(
    noun="materials producer",
    focus="metallurgy and advanced materials",
    fields=_items("Metallurgy | Advanced Materials | Materials Science"),
    name_words=_items(
        """
        Steel | Alloys | Metals | Special Steels | Materials | Precision Castings | Metallurgicals |
        Advanced Materials | Ferro Alloys | Composites | Magnetics | Forge
        """
    ),
    startup_words=_items("Materials | Alloys | Metals | Composites | Magnetics"),
    concepts=_concepts(
        """
        = specialty steel
        + tool steels, stainless and specialty alloy steels
        - secure high-performance steel grades that are hard to buy locally
        = rare-earth magnets
        + sintered NdFeB rare-earth permanent magnets
        - obtain strong magnets for electric motors and generators
        = carbon fibre
        + carbon fibre, prepregs and composite laminates
        - make lighter structures using high-strength fibre materials
        = ship plate
        + high-tensile shipbuilding plate in AH36 and EH36 grades
        - buy certified steel plate for hull construction
        = titanium
        + titanium sponge, billets and alloy forgings
        - source light, corrosion-resistant metal for aerospace parts
        = aluminium
        + aluminium extrusions and rolled sheet
        - get lightweight profiles and panels for vehicles and buildings
        = electrical steel
        + CRGO and non-oriented electrical steel
        - procure low-loss laminations for transformers and motors
        = superalloys
        + nickel-based superalloys for turbines
        - obtain heat-resistant metals for engine hot sections
        = copper foil
        + electrodeposited copper foil for battery anodes
        - secure thin current-collector foil for our cells
        = refractories
        + refractory bricks and monolithic linings
        - line our furnaces and ladles with heat-resistant ceramics
        = graphite electrodes
        + ultra-high-power graphite electrodes
        - keep our electric arc furnaces supplied with electrodes
        = dri
        + iron ore pelletising and direct reduced iron
        - feed our steelmaking with higher-grade iron units
        = green steel
        + hydrogen-based green steel process technology
        - decarbonise ironmaking by moving away from coking coal
        = metal powders
        + metal powders for additive manufacturing and powder metallurgy
        - get printable metal powders for 3D-printed parts
        = technical ceramics
        + advanced technical ceramics such as alumina, zirconia and silicon nitride
        - source wear- and heat-resistant ceramic components
        = coated steel
        + galvanised and colour-coated steel coils
        - buy corrosion-protected sheet for appliances and roofing
        = slag valorisation
        + steel slag valorisation into cement and aggregates
        - find a productive use for the by-products of our furnaces
        = rare-earth refining
        + rare-earth separation and oxide refining
        - build a supply of purified rare-earth oxides outside the dominant supplier
        = seamless tubes
        + seamless pipes and tubes for energy and boilers
        - procure pressure-rated tubing for power plants and pipelines
        = heavy forgings
        + heavy open-die forgings for shafts and pressure vessels
        - obtain very large forged components for heavy machinery
        = lithium refining
        + battery-grade lithium hydroxide refining
        - convert lithium concentrate into cell-ready chemicals
        = composites
        + glass-fibre polymer composites and moulded parts
        - replace metal parts with lighter reinforced plastics
        = eaf steel
        + electric-arc-furnace steelmaking from recycled scrap
        - produce steel with a lower carbon footprint from scrap
        = wire rod
        + high-carbon wire rod and tyre-cord steel
        - source fine steel wire for tyres and springs
        = coatings
        + anti-corrosion coatings and thermal spray services
        - extend the life of metal assets exposed to harsh environments
        = cryogenic steel
        + high-manganese cryogenic steel for LNG tanks
        - find metal that stays tough at minus 163 degrees for gas storage
        """
    ),
    facilities=_items(
        """
        an integrated steel plant with a 3 Mtpa blast furnace | an electric arc furnace melt shop |
        a vacuum induction melting unit | a hot strip mill | a cold rolling and annealing line | a
        magnet sintering plant | a carbon fibre precursor line | a heat-treatment shop | a
        metallurgical testing lab | a powder atomisation unit | a galvanising line | a 12,000-tonne
        forging press
        """
    ),
    certifications=_items(
        """
        ISO 9001 | ISO 14001 | IATF 16949 | AS9100D | API 5L | EN 10204 3.2 certification |
        ResponsibleSteel certification | PED 2014/68/EU | NADCAP heat treating
        """
    ),
)

VOCAB: dict[str, SectorVocab] = {
    "semiconductors": _SEMICONDUCTORS,
    "ai": _AI,
    "clean_energy": _CLEAN_ENERGY,
    "shipbuilding": _SHIPBUILDING,
    "defence": _DEFENCE,
    "automotive": _AUTOMOTIVE,
    "steel_materials": _STEEL_MATERIALS,
}

_RELATED: dict[str, tuple[str, ...]] = {
    "semiconductors": ("ai", "automotive", "defence", "clean_energy"),
    "ai": ("semiconductors", "automotive", "defence"),
    "clean_energy": ("automotive", "steel_materials", "semiconductors", "shipbuilding"),
    "shipbuilding": ("steel_materials", "defence", "clean_energy"),
    "defence": ("shipbuilding", "steel_materials", "ai", "semiconductors"),
    "automotive": ("clean_energy", "semiconductors", "steel_materials", "ai"),
    "steel_materials": ("shipbuilding", "automotive", "defence", "clean_energy"),
}


if set(VOCAB) != set(SECTORS):  # service.sectors is the source of truth for sector codes
    raise RuntimeError(f"synthetic vocabularies cover {sorted(VOCAB)}, not {sorted(SECTORS)}")


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """Expand (value, weight) pairs into a tuple for fast ``rng.choice``."""
    return tuple(value for value, weight in pairs for _ in range(weight))


_SECTOR_POOL = _weighted(
    (
        ("semiconductors", 17),
        ("ai", 17),
        ("clean_energy", 17),
        ("shipbuilding", 13),
        ("defence", 13),
        ("automotive", 12),
        ("steel_materials", 11),
    )
)
_ORG_POOL = _weighted(
    (
        ("company", 55),
        ("startup", 27),
        ("research_institute", 9),
        ("university", 6),
        ("government_agency", 3),
    )
)
# (low, high, skew): log-uniform between low and high, skew > 1 favours small sizes.
_EMPLOYEES: dict[str, tuple[int, int, float]] = {
    "company": (20, 100_000, 1.8),
    "startup": (5, 200, 1.2),
    "research_institute": (15, 4_000, 1.3),
    "university": (150, 25_000, 1.0),
    "government_agency": (20, 3_000, 1.2),
}
_FOUNDED: dict[str, tuple[int, int]] = {
    "company": (1952, 2019),
    "startup": (2012, 2024),
    "research_institute": (1960, 2021),
    "university": (1905, 2015),
    "government_agency": (1965, 2022),
}
_EARLIEST = {"ai": 1995, "semiconductors": 1975}  # no AI company founded in the 1960s

# --------------------------------------------------------------------------------------
# Country vocabularies: cities, name parts
# --------------------------------------------------------------------------------------

_CITIES: dict[str, tuple[str, ...]] = {
    "IN": _items(
        """
        Bengaluru | Pune | Chennai | Hyderabad | Ahmedabad | Dholera | Visakhapatnam | Kochi |
        Mumbai | Noida | Coimbatore | Gurugram | Kolkata | Nagpur | Vadodara | Mysuru |
        Thiruvananthapuram | Bhubaneswar | Jamshedpur | Kanpur | Sanand | Hosur | Nashik |
        Chandigarh | Indore
        """
    ),
    "KR": _items(
        """
        Seoul | Suwon | Pangyo | Daejeon | Ulsan | Geoje | Busan | Changwon | Pohang | Icheon |
        Gwangju | Cheongju | Incheon | Daegu | Gumi | Hwaseong | Pyeongtaek | Yongin | Asan |
        Cheonan | Mokpo | Gwangyang | Jeonju | Sejong | Ansan
        """
    ),
}
_HUBS: dict[str, dict[str, tuple[str, ...]]] = {
    "IN": {
        "semiconductors": _items(
            "Bengaluru | Hyderabad | Dholera | Noida | Sanand | Mysuru | Chennai"
        ),
        "ai": _items("Bengaluru | Hyderabad | Pune | Gurugram | Chennai | Mumbai | Noida"),
        "clean_energy": _items(
            "Ahmedabad | Chennai | Jamnagar | Bengaluru | Pune | Hosur | Vadodara"
        ),
        "shipbuilding": _items(
            "Kochi | Visakhapatnam | Mumbai | Kolkata | Vasco da Gama | Kattupalli"
        ),
        "defence": _items("Hyderabad | Bengaluru | Pune | Kanpur | Chennai | Nagpur | Lucknow"),
        "automotive": _items("Chennai | Pune | Gurugram | Sanand | Hosur | Aurangabad"),
        "steel_materials": _items(
            "Jamshedpur | Visakhapatnam | Raipur | Angul | Ballari | Bhilai | Rourkela"
        ),
    },
    "KR": {
        "semiconductors": _items(
            "Icheon | Pyeongtaek | Suwon | Yongin | Cheongju | Hwaseong | Pangyo"
        ),
        "ai": _items("Seoul | Pangyo | Daejeon | Busan | Gwangju"),
        "clean_energy": _items("Cheongju | Ochang | Ulsan | Gumi | Pohang | Gunsan | Cheonan"),
        "shipbuilding": _items("Ulsan | Geoje | Busan | Mokpo | Changwon | Tongyeong | Yeongam"),
        "defence": _items("Changwon | Daejeon | Gumi | Seoul | Sacheon"),
        "automotive": _items("Ulsan | Hwaseong | Gwangju | Asan | Changwon | Daegu"),
        "steel_materials": _items("Pohang | Gwangyang | Dangjin | Incheon | Changwon"),
    },
}
_IN_SINGLE_ROOTS = _items(
    """
    Shakti | Navyuga | Vajra | Agni | Tejas | Prakash | Varuna | Kaveri | Sahyadri | Aravali |
    Vindhya | Narmada | Godavari | Sindhu | Himadri | Nilgiri | Garuda | Chetak | Pragati | Unnati |
    Samarth | Akshay | Ananta | Aditya | Anvaya | Bharati | Chandra | Dhruva | Ekam | Gaurav | Indra
    | Jyoti | Kalpa | Kirti | Lakshya | Mitra | Nakshatra | Ojas | Prithvi | Rudra | Sagar | Tara |
    Utkarsh | Vayu | Yantra | Vikram | Veda | Sankalp | Sthira | Dhara | Kshitij | Nirmaan | Srijan
    | Urja | Vistar | Yukti | Abhay | Aryav | Trishul | Saptarishi
    """
)
_IN_PREFIXES = _items(
    """
    Nav | Maha | Surya | Param | Vishva | Jay | Shri | Dhruv | Ved | Amrit | Sur | Dev | Jan | Raj |
    Tej | Neel | Swarna | Sahas | Ud | Pra | Su | Sam | Vir | Deep | Kala | Megh | Ratna | Bhoomi |
    Sarva | Yash
    """
)
_IN_STEMS = _items(
    """
    yuga | shakti | tej | jyoti | dhara | kiran | veer | deep | vani | setu | nidhi | gati | sagar |
    prabha | vikas | srishti | yantra | tara | urja | mitra | dhan | kriti | jit | loka | path |
    shila | vahan | drishti | arka | sena
    """
)
_IN_SURNAMES = _items(
    """
    Deshpande | Kulkarni | Iyer | Menon | Reddy | Bhatia | Khanna | Nair | Rao | Patil | Shah |
    Mehta | Joshi | Banerjee | Chatterjee | Pillai | Gupta | Agarwal | Sinha | Kapoor | Bhide |
    Gokhale | Naidu | Hegde | Shetty | Kamath | Ranade | Sethi | Malhotra | Trivedi
    """
)
_KR_FIRST = _items(
    """
    Han | Dae | Sam | Dong | Se | Hyo | Sung | Jin | Il | Kwang | Myung | Young | Cheon | Woo | Shin
    | Hwa | Kyung | Tae | Sun | Jeong | Bo | Chang | Nam | Seo | Hyun | Jung | Eun | Ha | Do | Geum
    | Baek | Cheong | Ji | Yeon | Hee | Mi
    """
)
_KR_SECOND = _items(
    """
    bit | yang | jin | il | sung | won | han | hwa | dong | woo | kwang | myung | chang | san | do |
    seong | rim | yeon | heung | bo | sin | ju | gang | hae | ra | on | kyung | ho | an | nam
    """
)
_KR_SINGLE_ROOTS = _items(
    """
    Nuri | Areum | Saebit | Haneul | Bada | Byeol | Maru | Dasol | Gaon | Onnuri | Saerom | Yeoul |
    Dami | Garam | Bitna | Iroum | Jaram | Arim | Dorim | Narae | Seorin | Hanbyeol | Yeoreum |
    Mirae | Saessak
    """
)
# Roots that would spell (or nearly spell) well-known real Korean groups.
_KR_BLOCKED = frozenset(
    _items(
        """
        Samsung | Hyosung | Daewoo | Hanhwa | Hanjin | Dongwon | Iljin | Hanil | Daesung |
        Samyang | Sungwoo | Harim | Daewon | Hanmi | Shinsung | Kyungdong | Dongyang | Hanra |
        Daehan | Jinro | Ilyang
        """
    )
)


def _build_roots() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Return per country (company roots, startup roots) in a fixed order."""
    in_compound = tuple(p + s for p in _IN_PREFIXES for s in _IN_STEMS if not p.lower().endswith(s))
    kr_compound = tuple(
        f + s for f in _KR_FIRST for s in _KR_SECOND if f.lower() != s and f + s not in _KR_BLOCKED
    )
    return {
        "IN": (in_compound + _IN_SINGLE_ROOTS + _IN_SURNAMES, in_compound + _IN_SINGLE_ROOTS),
        "KR": (kr_compound + _KR_SINGLE_ROOTS, kr_compound + _KR_SINGLE_ROOTS),
    }


_ROOTS = _build_roots()
_MODIFIERS = ("Advanced", "Precision", "Integrated", "Global", "United", "Smart", "Next")
_LEGAL: dict[str, dict[str, tuple[str, ...]]] = {
    "IN": {
        "company": ("Pvt Ltd", "Pvt Ltd", "Private Limited", "Ltd", "Limited", "LLP"),
        "startup": ("", "", "", "Pvt Ltd", "Private Limited"),
    },
    "KR": {
        "company": ("Co., Ltd.", "Co., Ltd.", "Co., Ltd.", "Corporation", "Inc.", ""),
        "startup": ("", "", "", "Inc.", "Co., Ltd."),
    },
}
_INSTITUTE_CORES: dict[str, tuple[str, ...]] = {
    "IN": ("Institute of {f}", "Centre for {f} Research", "{f} Research Institute"),
    "KR": ("Institute of {f}", "Center for {f} Research", "{f} Research Institute"),
}
_UNIVERSITY_CORES: dict[str, tuple[str, ...]] = {
    "IN": (
        "University",
        "Institute of Technology",
        "Institute of Science and Technology",
        "Technological University",
        "Vidyapeeth",
    ),
    "KR": (
        "University",
        "Institute of Technology",
        "Institute of Science and Technology",
        "University of Science and Technology",
    ),
}
# Agencies are named after a state/province and sit in its capital (or main city).
_AGENCY_SEATS: dict[str, dict[str, str]] = {
    "IN": {
        "Karnataka": "Bengaluru",
        "Tamil Nadu": "Chennai",
        "Gujarat": "Gandhinagar",
        "Maharashtra": "Mumbai",
        "Telangana": "Hyderabad",
        "Andhra Pradesh": "Amaravati",
        "Kerala": "Thiruvananthapuram",
        "Uttar Pradesh": "Lucknow",
        "Odisha": "Bhubaneswar",
        "Haryana": "Chandigarh",
        "West Bengal": "Kolkata",
        "Rajasthan": "Jaipur",
        "Madhya Pradesh": "Bhopal",
        "Punjab": "Mohali",
        "Assam": "Guwahati",
    },
    "KR": {
        "Gyeonggi": "Suwon",
        "Gyeongnam": "Changwon",
        "Gyeongbuk": "Andong",
        "Chungbuk": "Cheongju",
        "Chungnam": "Hongseong",
        "Jeonbuk": "Jeonju",
        "Jeonnam": "Muan",
        "Gangwon": "Chuncheon",
        "Jeju": "Jeju",
        "Busan": "Busan",
        "Ulsan": "Ulsan",
        "Daejeon": "Daejeon",
        "Incheon": "Incheon",
        "Daegu": "Daegu",
        "Gwangju": "Gwangju",
    },
}
_AGENCY_LEADS = {country: tuple(seats) for country, seats in _AGENCY_SEATS.items()}
_AGENCY_CORES: dict[str, tuple[str, ...]] = {
    "IN": ("{f} Mission", "{f} Development Corporation", "{f} Promotion Board"),
    "KR": ("{f} Promotion Agency", "Technopark {f} Center", "{f} Industry Foundation"),
}
_REGIONS: dict[str, tuple[str, ...]] = {
    "IN": _items(
        """
        Deccan | Konkan | Malabar | Coromandel | Purvanchal | Bundelkhand | Saurashtra | Doaba |
        Vidarbha | Marathwada | Kutch | Awadh
        """
    ),
    "KR": _items(
        "Yeongnam | Honam | Gyeongin | Hoseo | Gwandong | Jungbu | Seohae | Donghae | Namhae"
    ),
}

# --------------------------------------------------------------------------------------
# Sentence templates
# --------------------------------------------------------------------------------------

_INTROS: dict[str, tuple[str, ...]] = {
    "company": (
        "Founded in {year}, the company is a {size} {noun} headquartered in {city}.",
        "Headquartered in {city}, this {size} {noun} has been operating since {year}.",
        "The company is a {size} {noun} based in {city}, with roots going back to {year}.",
    ),
    "startup": (
        "Founded in {year} in {city}, this {stage} startup builds products in {focus}.",
        "This {stage} startup from {city}, set up in {year}, works on {focus}.",
        "Started in {year} by engineers in {city}, this {stage} venture focuses on {focus}.",
    ),
    "research_institute": (
        "Established in {year}, this {kind} research institute in {city} works on {focus}.",
        "This {kind} institute, set up in {city} in {year}, runs applied programmes in {focus}.",
    ),
    "university": (
        "This {city} university, founded in {year}, has an engineering faculty active in {focus}.",
        "The engineering school of this university in {city}, established in {year}, "
        "conducts research in {focus}.",
    ),
    "government_agency": (
        "This {gov} agency in {city}, created in {year}, promotes {focus} through shared "
        "infrastructure and industrial programmes.",
        "Set up in {year}, this {gov} body in {city} supports industry in {focus} with test "
        "facilities and funding schemes.",
    ),
}
_STAGES = ("seed-stage", "pre-Series A", "Series A", "Series B", "venture-backed", "bootstrapped")
_INSTITUTE_KINDS = ("publicly funded", "autonomous", "non-profit", "government-backed")
_GOV_KINDS = {"IN": ("state government", "state-level"), "KR": ("provincial", "regional")}
_OFFER_LEADS = (
    "Core offerings include {x}.",
    "Its portfolio covers {x}.",
    "The main lines of work are {x}.",
    "It specialises in {x}.",
    "Key strengths include {x}.",
)
_OFFER_MORE = (
    "It also offers {x}.",
    "In addition, the team provides {x}.",
    "Secondary lines of work include {x}.",
)
_FACILITY_LINES = (
    "Operations run from {x} in {city}.",
    "Its facilities include {x}.",
    "Work is carried out at {x} near {city}.",
)
_CERT_LINES = (
    "Relevant certifications include {x}.",
    "Its quality and compliance credentials include {x}.",
    "Products and processes are backed by {x}.",
)
_SCALE_LINES: dict[str, tuple[str, ...]] = {
    "company": (
        "It employs about {emp} people and exports to {k} countries.",
        "With roughly {emp} staff, it serves customers across {market} and at home.",
        "Annual revenue is about {rev}, earned with a workforce of around {emp}.",
    ),
    "startup": (
        "The team of {emp} has raised {funding} so far.",
        "With {emp} people, it already serves pilot customers in {market}.",
    ),
    "research_institute": (
        "Around {emp} researchers and staff work here, and {k} patents were filed in the "
        "past five years.",
        "It runs {k} sponsored industry projects with about {emp} staff.",
    ),
    "university": (
        "Around {emp} faculty and staff are involved, with {k} patents filed in the past five "
        "years.",
        "Its labs run {k} sponsored industry projects each year.",
    ),
    "government_agency": (
        "It has around {emp} staff and administers {k} industry support schemes.",
    ),
}
_MILESTONES = (
    "Recently it commissioned a second production line.",
    "Recently it completed a pilot with a large domestic customer.",
    "It won a national innovation award last year.",
    "It has grown its engineering team by a third over the past two years.",
    "Last year it signed its first export contract.",
    "Its products were recently qualified by two global OEMs.",
    "It is moving into a larger facility to meet demand.",
)
_RESEARCH_MILESTONES = (
    "It recently launched a joint doctoral programme with industry.",
    "A new pilot-scale laboratory opened last year.",
    "Two startups have spun out of its labs in recent years.",
    "It currently coordinates an international consortium project.",
)
_MARKETS = (
    "Southeast Asia",
    "the Middle East",
    "Europe",
    "North America",
    "Japan",
    "Africa",
    "Latin America",
    "Australia",
)

_NEED_FIRST = (
    "We are looking for {adj} partner that can {vp}.",
    "The main goal is to find {adj} partner able to {vp}.",
    "We want to work with {adj} organisation that can help us {vp}.",
    "Our priority is {adj} collaborator who can {vp}.",
)
_NEED_MORE = (
    "We would also like to {vp}.",
    "A further aim is to {vp}.",
    "In addition, we need a way to {vp}.",
    "Beyond that, we hope to {vp}.",
)
_GENERIC_NEEDS = (
    "navigate {pa} certification, testing and regulatory approvals",
    "get introductions to {pa} OEMs, prime contractors and system integrators",
    "share the cost of pilot projects under bilateral co-funding schemes",
    "build local sales, distribution and after-sales support in {pc}",
    "recruit experienced engineers and set up a technical liaison office",
    "exchange researchers and co-author publications with a {pa} group",
    "secure patient growth capital for a capacity expansion",
    "localise our products for customers and standards in {pc}",
    "benchmark our processes against leading plants in {pc}",
    "find a reliable second source to de-risk our supply chain",
)
_PTYPE_PHRASES = {
    "joint_venture": "a joint venture",
    "technology_licensing": "a technology licence",
    "co_development": "co-development",
    "manufacturing": "contract or joint manufacturing",
    "supply_chain": "a long-term supply agreement",
    "research_collaboration": "a research collaboration",
    "investment": "an equity investment",
}
_PTYPE_ONE = (
    "We are open to {x}.",
    "The preferred route is {x}, starting with a pilot.",
    "Ideally the partnership would take the form of {x}.",
)
_PTYPE_MANY = (
    "We are open to {x}.",
    "Preferred structures are {x}.",
    "Possible routes include {x}, starting with a pilot.",
)
_PTYPE_NONE = (
    "We are flexible about the deal structure and happy to start small.",
    "The form of the partnership is open for discussion.",
)
_MOTIVATIONS = (
    "This is part of a plan to double capacity over the next five years.",
    "The partnership should help us serve customers in {market} as well as at home.",
    "We want to move quickly, with a first pilot within the next twelve months.",
    "Government co-funding for bilateral projects makes this a good moment to act.",
    "Our board has already approved a budget for this collaboration.",
    "Strong demand from domestic customers is driving this search.",
)
# (article + adjective, country, adjective) of the partner country sought.
_PARTNER = {"IN": ("a Korean", "Korea", "Korean"), "KR": ("an Indian", "India", "Indian")}
_MONEY = {"IN": ("INR {x:,} crore", 0.3), "KR": ("KRW {x:,} billion", 0.25)}
_ORG_TAGS = {
    "startup": "startup",
    "research_institute": "research",
    "university": "academia",
    "government_agency": "public sector",
}

# --------------------------------------------------------------------------------------
# Planning: countries and planted pairs
# --------------------------------------------------------------------------------------


class _Spec(NamedTuple):
    """What a profile is about, decided before its text is written."""

    sectors: tuple[str, ...]
    offers: tuple[Concept, ...]
    needs: tuple[str, ...]  # need phrasings (verb phrases); may hold "{pc}" / "{pa}"
    ptypes: tuple[str, ...]


def _validate(n: int, planted_fraction: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not 0.0 <= planted_fraction <= 0.5:
        raise ValueError(f"planted_fraction must be in [0, 0.5], got {planted_fraction!r}")


def _assign_countries(rng: random.Random, n: int) -> list[str]:
    countries = ["IN"] * (n - n // 2) + ["KR"] * (n // 2)
    rng.shuffle(countries)
    return countries


def _secondary_sectors(rng: random.Random, primary: str) -> tuple[str, ...]:
    r = rng.random()
    extra = 0 if r < 0.55 else 1 if r < 0.88 else 2
    return (primary, *rng.sample(_RELATED[primary], extra))


def _sorted_ptypes(ptypes: Sequence[str]) -> tuple[str, ...]:
    return tuple(p for p in PARTNERSHIP_TYPES if p in ptypes)


def _planted_specs(rng: random.Random, sector: str) -> tuple[_Spec, _Spec]:
    """Two specs whose needs are each answered by the other's offers."""
    concepts = VOCAB[sector].concepts
    n_a, n_b = rng.randint(2, 3), rng.randint(2, 3)
    picked = [concepts[i] for i in rng.sample(range(len(concepts)), n_a + n_b)]
    offers_a, offers_b = tuple(picked[:n_a]), tuple(picked[n_a:])
    needs_a = tuple(c.need for c in rng.sample(offers_b, rng.randint(1, 2)))
    needs_b = tuple(c.need for c in rng.sample(offers_a, rng.randint(1, 2)))
    shared = rng.choice(PARTNERSHIP_TYPES)
    ptypes_a = _sorted_ptypes([shared, *rng.sample(PARTNERSHIP_TYPES, rng.randint(0, 2))])
    ptypes_b = _sorted_ptypes([shared, *rng.sample(PARTNERSHIP_TYPES, rng.randint(0, 2))])
    return (
        _Spec(_secondary_sectors(rng, sector), offers_a, needs_a, ptypes_a),
        _Spec(_secondary_sectors(rng, sector), offers_b, needs_b, ptypes_b),
    )


def _plant(
    rng: random.Random, countries: Sequence[str], planted_fraction: float
) -> tuple[dict[int, _Spec], list[tuple[int, int]]]:
    in_idx = [i for i, c in enumerate(countries) if c == "IN"]
    kr_idx = [i for i, c in enumerate(countries) if c == "KR"]
    k = min(round(planted_fraction * len(countries)), len(in_idx), len(kr_idx))
    pairs = sorted(zip(rng.sample(in_idx, k), rng.sample(kr_idx, k), strict=True))
    specs: dict[int, _Spec] = {}
    for a, b in pairs:
        specs[a], specs[b] = _planted_specs(rng, rng.choice(_SECTOR_POOL))
    return specs, pairs


def _random_spec(rng: random.Random) -> _Spec:
    """Offers and needs drawn independently (needs never repeat own offers)."""
    sectors = _secondary_sectors(rng, rng.choice(_SECTOR_POOL))
    concepts = VOCAB[sectors[0]].concepts
    n_offers = rng.choice((1, 2, 2, 2, 3, 3, 3))
    idx = rng.sample(range(len(concepts)), n_offers + 3)
    offers = [concepts[i] for i in idx[:n_offers]]
    need_pool = [concepts[i].need for i in idx[n_offers:]]
    needs = need_pool[: rng.choice((1, 1, 2, 2, 3))]
    if len(sectors) > 1 and rng.random() < 0.5:
        side = VOCAB[rng.choice(sectors[1:])].concepts
        first, second = rng.sample(side, 2)
        offers.append(first)
        if len(needs) < 3 and rng.random() < 0.5:
            needs.append(second.need)
    if len(needs) < 3 and rng.random() < 0.35:
        needs.append(rng.choice(_GENERIC_NEEDS))
    r = rng.random()
    n_ptypes = 0 if r < 0.1 else 1 if r < 0.5 else 2 if r < 0.85 else 3
    ptypes = _sorted_ptypes(rng.sample(PARTNERSHIP_TYPES, n_ptypes))
    return _Spec(sectors, tuple(offers), tuple(needs), ptypes)


# --------------------------------------------------------------------------------------
# Names and websites
# --------------------------------------------------------------------------------------


def _roman(k: int) -> str:
    out = []
    for value, glyph in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        count, k = divmod(k, value)
        out.append(glyph * count)
    return "".join(out)


def _name_key(name: str) -> str:
    """Uniqueness key: case-folded with whitespace collapsed."""
    return " ".join(name.casefold().split())


def _join_name(*parts: str) -> str:
    return " ".join(p for p in parts if p)


class _NameParts(NamedTuple):
    lead: str
    core: str
    legal: str


def _draw_name(rng: random.Random, country: str, org_type: str, sector: str) -> _NameParts:
    vocab = VOCAB[sector]
    company_roots, startup_roots = _ROOTS[country]
    if org_type == "company":
        word = rng.choice(vocab.name_words)
        modifier = rng.choice(_MODIFIERS) if rng.random() < 0.2 else ""
        if modifier in word:
            modifier = ""
        legal = rng.choice(_LEGAL[country]["company"])
        return _NameParts(rng.choice(company_roots), _join_name(modifier, word), legal)
    if org_type == "startup":
        words = vocab.startup_words if rng.random() < 0.6 else vocab.name_words
        legal = rng.choice(_LEGAL[country]["startup"])
        return _NameParts(rng.choice(startup_roots), rng.choice(words), legal)
    if org_type == "research_institute":
        core = rng.choice(_INSTITUTE_CORES[country]).format(f=rng.choice(vocab.fields))
        return _NameParts(rng.choice(startup_roots), core, "")
    if org_type == "university":
        return _NameParts(rng.choice(startup_roots), rng.choice(_UNIVERSITY_CORES[country]), "")
    core = rng.choice(_AGENCY_CORES[country]).format(f=rng.choice(vocab.fields))
    return _NameParts(rng.choice(_AGENCY_LEADS[country]), core, "")


class _Registry:
    """Keeps names unique per country (after normalisation) and websites unique."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {c: set() for c in COUNTRIES}
        self._numeral: dict[str, int] = {}
        self._slugs: dict[str, int] = {}

    def name(self, rng: random.Random, country: str, org_type: str, sector: str) -> _NameParts:
        """Draw name parts whose joined name is unique within ``country``.

        A few fresh draws first, then a regional qualifier (a field office for agencies),
        then a Roman numeral, which always succeeds.
        """
        for _ in range(4):
            parts = _draw_name(rng, country, org_type, sector)
            if self._claim(country, parts):
                return parts
        if org_type == "government_agency":
            office = f"{parts.core} ({rng.choice(_CITIES[country])} Office)"
            qualified = _NameParts(parts.lead, office, parts.legal)
        else:
            region = rng.choice(_REGIONS[country])
            qualified = _NameParts(_join_name(parts.lead, region), parts.core, parts.legal)
        if self._claim(country, qualified):
            return qualified
        return self._numbered(country, parts)

    def _claim(self, country: str, parts: _NameParts) -> bool:
        key = _name_key(_join_name(*parts))
        taken = self._names[country]
        if key in taken:
            return False
        taken.add(key)
        return True

    def _numbered(self, country: str, parts: _NameParts) -> _NameParts:
        base = f"{country}:{_name_key(_join_name(*parts))}"
        k = self._numeral.get(base, 2)
        while True:
            numbered = _NameParts(parts.lead, f"{parts.core} {_roman(k)}", parts.legal)
            k += 1
            if self._claim(country, numbered):
                self._numeral[base] = k
                return numbered

    def website(self, slug_base: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", slug_base.casefold()).strip("-")[:55].strip("-")
        slug = slug or "org"
        candidate, count = slug, self._slugs.get(slug, 0)
        while candidate in self._slugs:
            count += 1
            candidate = f"{slug}-{count}"
        self._slugs[slug] = count
        self._slugs[candidate] = 0
        return f"https://{candidate}.example"


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _join(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'; items that contain lists themselves get semicolons."""
    if len(items) <= 1:
        return "".join(items)
    if not any(" and " in item or ", " in item for item in items):
        return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
    if len(items) == 2:
        return f"{items[0]}, as well as {items[1]}"
    return f"{'; '.join(items[:-1])}; {conjunction} {items[-1]}"


def _fit(
    required: list[str], optional: list[str], spare: list[str], lo: int, hi: int, most: int
) -> str:
    """Join sentences: all required, optional ones while <= ``hi``, spare ones if < ``lo``."""
    sentences = list(required)
    length = sum(len(s) + 1 for s in sentences) - 1
    for sentence in optional:
        if len(sentences) < most and length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    for sentence in spare:
        if length >= lo or len(sentences) >= most:
            break
        if length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    return " ".join(sentences)


def _size_word(employees: int) -> str:
    if employees < 100:
        return "small"
    if employees < 1000:
        return "mid-sized"
    if employees < 10_000:
        return "large"
    return "leading"


def _money(country: str, employees: int) -> str:
    template, per_head = _MONEY[country]
    raw = max(1.0, employees * per_head)
    magnitude = 10 ** max(0, int(math.log10(raw)) - 1)
    return template.format(x=round(raw / magnitude) * magnitude)


class _Org(NamedTuple):
    country: str
    org_type: str
    city: str
    employees: int
    year: int


def _intro(rng: random.Random, org: _Org, vocab: SectorVocab) -> str:
    return rng.choice(_INTROS[org.org_type]).format(
        year=org.year,
        city=org.city,
        size=_size_word(org.employees),
        noun=vocab.noun,
        focus=vocab.focus,
        stage=rng.choice(_STAGES),
        kind=rng.choice(_INSTITUTE_KINDS),
        gov=rng.choice(_GOV_KINDS[org.country]),
    )


def _scale(rng: random.Random, org: _Org) -> str:
    emp = f"{org.employees:,}"
    return rng.choice(_SCALE_LINES[org.org_type]).format(
        emp=emp,
        k=rng.randint(3, 40),
        market=rng.choice(_MARKETS),
        rev=_money(org.country, org.employees),
        funding=f"USD {rng.choice((1, 2, 3, 5, 8, 12, 20, 35, 60))} million",
    )


def _capabilities(rng: random.Random, org: _Org, spec: _Spec) -> str:
    vocab = VOCAB[spec.sectors[0]]
    phrases = [c.capability for c in spec.offers]
    split = 2 if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    required = [_intro(rng, org, vocab), rng.choice(_OFFER_LEADS).format(x=_join(phrases[:split]))]
    if phrases[split:]:
        required.append(rng.choice(_OFFER_MORE).format(x=_join(phrases[split:])))
    facilities = rng.sample(vocab.facilities, rng.choice((1, 1, 2)))
    required.append(rng.choice(_FACILITY_LINES).format(x=_join(facilities), city=org.city))
    certs = _join(rng.sample(vocab.certifications, rng.randint(1, 3)))
    research = org.org_type in ("research_institute", "university", "government_agency")
    milestone = rng.choice(_RESEARCH_MILESTONES if research else _MILESTONES)
    extras = [rng.choice(_CERT_LINES).format(x=certs), _scale(rng, org), milestone]
    keep = [rng.random() < p for p in (0.6, 0.7, 0.35)]
    optional = [s for s, k in zip(extras, keep, strict=True) if k]
    spare = [s for s, k in zip(extras, keep, strict=True) if not k]
    return _fit(required, optional, spare, *CAPABILITIES_CHARS, _MAX_CAP_SENTENCES)


def _needs(rng: random.Random, org: _Org, spec: _Spec) -> str:
    adj, partner_country, partner_adj = _PARTNER[org.country]
    phrases = [vp.format(pc=partner_country, pa=partner_adj) for vp in spec.needs]
    sentences = [rng.choice(_NEED_FIRST).format(adj=adj, vp=phrases[0])]
    more = rng.sample(_NEED_MORE, len(phrases) - 1)
    sentences += [line.format(vp=vp) for line, vp in zip(more, phrases[1:], strict=True)]
    if spec.ptypes:
        deal = _join([_PTYPE_PHRASES[p] for p in spec.ptypes], "or")
        lines = _PTYPE_ONE if len(spec.ptypes) == 1 else _PTYPE_MANY
        sentences.append(rng.choice(lines).format(x=deal))
    else:
        sentences.append(rng.choice(_PTYPE_NONE))
    motivation = rng.choice(_MOTIVATIONS).format(market=rng.choice(_MARKETS))
    optional = [motivation] if rng.random() < 0.3 else []
    spare = [] if optional else [motivation]
    return _fit(sentences, optional, spare, *NEEDS_CHARS, _MAX_NEED_SENTENCES)


def _tags(org: _Org, spec: _Spec) -> list[str]:
    tags = [*spec.sectors, *(c.tag for c in spec.offers)]
    if org.org_type in _ORG_TAGS:
        tags.append(_ORG_TAGS[org.org_type])
    return list(dict.fromkeys(tags))[:8]


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def _city(rng: random.Random, country: str, sector: str, org_type: str) -> str:
    hub_share = 0.7 if org_type in ("company", "startup") else 0.5
    if rng.random() < hub_share:
        return rng.choice(_HUBS[country][sector])
    return rng.choice(_CITIES[country])


def _employees(rng: random.Random, org_type: str) -> int:
    low, high, skew = _EMPLOYEES[org_type]
    u = rng.random() ** skew
    value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return max(low, min(high, round(value)))


def _founded(rng: random.Random, org_type: str, sector: str) -> int:
    low, high = _FOUNDED[org_type]
    return rng.randint(max(low, _EARLIEST.get(sector, low)), high)


def _profile(rng: random.Random, country: str, spec: _Spec, registry: _Registry) -> dict:
    org_type = rng.choice(_ORG_POOL)
    primary = spec.sectors[0]
    parts = registry.name(rng, country, org_type, primary)
    if org_type == "government_agency":
        city = _AGENCY_SEATS[country][parts.lead]
    else:
        city = _city(rng, country, primary, org_type)
    org = _Org(country, org_type, city, _employees(rng, org_type), _founded(rng, org_type, primary))
    return {
        "name": _join_name(*parts),
        "country": country,
        "org_type": org_type,
        "sectors": list(spec.sectors),
        "capabilities": _capabilities(rng, org, spec),
        "needs": _needs(rng, org, spec),
        "partnership_types": list(spec.ptypes),
        "employees": org.employees,
        "city": city,
        "tags": _tags(org, spec),
        "website": registry.website(_join_name(parts.lead, parts.core)),
    }


def _iter_profiles(
    rng: random.Random, countries: list[str], planted: dict[int, _Spec]
) -> Iterator[dict]:
    registry = _Registry()
    for i, country in enumerate(countries):
        spec = planted.get(i)
        if spec is None:
            spec = _random_spec(rng)
        yield _profile(rng, country, spec, registry)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def stream(
    n: int, random_seed: int = 0, planted_fraction: float = 0.02
) -> tuple[list[tuple[int, int]], Iterator[dict]]:
    """Plan ``n`` profiles and return (planted pairs, lazy profile iterator).

    Yields exactly the profiles ``generate`` would return, one at a time, so registries
    of a million profiles can be written out without holding them all in memory.  The
    iterator should be consumed once, fully and in order.
    """
    _validate(n, planted_fraction)
    rng = random.Random(random_seed)
    countries = _assign_countries(rng, n)
    planted, pairs = _plant(rng, countries, planted_fraction)
    return pairs, _iter_profiles(rng, countries, planted)


def generate(n: int, random_seed: int = 0, planted_fraction: float = 0.02) -> SyntheticSet:
    """Generate ``n`` profiles (about half IN, half KR) with planted complementary pairs.

    ``planted_pairs`` holds about ``planted_fraction * n`` (IN index, KR index) tuples,
    sorted by IN index.  Deterministic for a given (n, random_seed, planted_fraction).
    """
    pairs, profiles = stream(n, random_seed, planted_fraction)
    # Profiles hold no reference cycles; pausing the cyclic GC while a million dicts pile
    # up saves about a third of the run time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        items = list(profiles)
    finally:
        if was_enabled:
            gc.enable()
    return SyntheticSet(profiles=items, planted_pairs=pairs)


def write_planted_pairs(s: SyntheticSet, path: str | os.PathLike[str]) -> None:
    """Write planted pairs as CSV: in_name,kr_name,in_index,kr_index (UTF-8)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("in_name", "kr_name", "in_index", "kr_index"))
        for in_index, kr_index in s.planted_pairs:
            in_name = s.profiles[in_index]["name"]
            kr_name = s.profiles[kr_index]["name"]
            writer.writerow((in_name, kr_name, in_index, kr_index))
